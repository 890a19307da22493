//! SHA-256 from whichever crypto backend is compiled in, so that crates above core need no crypto
//! library of their own for a digest.

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    #[cfg(feature = "aws-lc-rs")]
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref());
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    out.copy_from_slice(&<sha2::Sha256 as sha2::Digest>::digest(data));
    out
}
