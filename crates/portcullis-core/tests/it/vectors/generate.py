"""Writes jws.json: signatures made by OpenSSL (through pyca/cryptography), one per algorithm
Portcullis verifies, so that each crypto backend is checked against a signer no one here wrote.

Run once with `python3 generate.py > jws.json`; the output is committed, and the tests only read it.
Each vector holds a public JWK without `alg` (as providers publish them), the JWS signing input and
the signature, both as in a compact JWS, and whether a backend must accept it.
"""

import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(value: int, size: int | None = None) -> bytes:
    size = size or (value.bit_length() + 7) // 8
    return value.to_bytes(size, "big")


def signing_input(alg: str, kid: str) -> bytes:
    header = b64(json.dumps({"alg": alg, "kid": kid, "typ": "at+jwt"}).encode())
    claims = b64(json.dumps({"iss": "https://op.example", "sub": "alice", "exp": 2000000000}).encode())
    return f"{header}.{claims}".encode()


rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
numbers = rsa_key.public_key().public_numbers()
rsa_jwk = {"kty": "RSA", "kid": "rsa", "n": b64(uint(numbers.n)), "e": b64(uint(numbers.e))}

vectors = []
hash_of = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
for bits, hash_ in hash_of.items():
    for alg in (f"RS{bits}", f"PS{bits}"):
        message = signing_input(alg, "rsa")
        if alg.startswith("RS"):
            pad = padding.PKCS1v15()
        else:
            # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
            pad = padding.PSS(mgf=padding.MGF1(hash_()), salt_length=hash_.digest_size)
        signature = rsa_key.sign(message, pad, hash_())
        vectors.append({"alg": alg, "jwk": rsa_jwk, "input": message.decode(), "signature": b64(signature), "valid": True})

# A 1024-bit RSA key: too short for either backend (both take 2048 to 8192 bits).
short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
numbers = short.public_key().public_numbers()
short_jwk = {"kty": "RSA", "kid": "short", "n": b64(uint(numbers.n)), "e": b64(uint(numbers.e))}
message = signing_input("RS256", "short")
signature = short.sign(message, padding.PKCS1v15(), hashes.SHA256())
vectors.append({"alg": "RS256", "jwk": short_jwk, "input": message.decode(), "signature": b64(signature), "valid": False})

for alg, curve, crv, size, hash_ in (
    ("ES256", ec.SECP256R1(), "P-256", 32, hashes.SHA256),
    ("ES384", ec.SECP384R1(), "P-384", 48, hashes.SHA384),
):
    key = ec.generate_private_key(curve)
    point = key.public_key().public_numbers()
    jwk = {"kty": "EC", "kid": alg.lower(), "crv": crv, "x": b64(uint(point.x, size)), "y": b64(uint(point.y, size))}
    message = signing_input(alg, jwk["kid"])
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hash_())))
    vectors.append({"alg": alg, "jwk": jwk, "input": message.decode(), "signature": b64(uint(r, size) + uint(s, size)), "valid": True})

ed_key = ed25519.Ed25519PrivateKey.generate()

raw = ed_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
ed_jwk = {"kty": "OKP", "kid": "ed25519", "crv": "Ed25519", "x": b64(raw)}
message = signing_input("EdDSA", "ed25519")
vectors.append({"alg": "EdDSA", "jwk": ed_jwk, "input": message.decode(), "signature": b64(ed_key.sign(message)), "valid": True})

print(json.dumps({"vectors": vectors}, indent=1))
