//! The JSON-lines format of `portcullis export` and `portcullis import`: one record per line, tagged
//! by `kind`, bytes as unpadded base64url. It carries what a team needs to move from one database to
//! another: server secrets (without the HMAC key, stored client secrets would no longer verify),
//! clients, users, signing keys and consents. Codes, sessions and tokens are short-lived and stay
//! behind.

use super::sign_in::UserRow;
use super::{ClientRow, KeyRow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A consent as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ConsentRow {
    /// The user.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// The scope allowed, space-separated.
    pub scope: String,
    /// When, Unix seconds.
    pub granted_at: i64,
}

/// One line of an export. Each kind is its row's fields beside the `kind` tag.
///
/// ```
/// use portcullis_server::store::{ConsentRow, DumpRecord};
/// let line = DumpRecord::Consent(ConsentRow {
///     user_id: "u1".into(), client_id: "c1".into(), scope: "openid".into(), granted_at: 1,
/// }).to_line().unwrap();
/// assert!(line.starts_with(r#"{"kind":"consent""#));
/// assert_eq!(DumpRecord::from_line(&line).unwrap().kind(), "consent");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DumpRecord {
    /// A key the server made for itself (the client-secret HMAC key).
    ServerSecret {
        /// Its name.
        name: String,
        /// Its bytes.
        #[serde(with = "b64")]
        value: Vec<u8>,
    },
    /// A client.
    Client(ClientRow),
    /// A user.
    User(UserRow),
    /// A signing key, private part included.
    Key(KeyRow),
    /// A consent.
    Consent(ConsentRow),
}

impl std::fmt::Debug for DumpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every kind but consent carries a secret or a hash of one.
        write!(f, "DumpRecord({})", self.kind())
    }
}

impl DumpRecord {
    /// The `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            DumpRecord::ServerSecret { .. } => "server_secret",
            DumpRecord::Client(_) => "client",
            DumpRecord::User(_) => "user",
            DumpRecord::Key(_) => "key",
            DumpRecord::Consent(_) => "consent",
        }
    }

    /// One JSON line, without the newline.
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Parses one line.
    pub fn from_line(line: &str) -> Result<DumpRecord, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// A client row as a record.
    pub fn client(row: ClientRow) -> DumpRecord {
        DumpRecord::Client(row)
    }
}

/// Keys and the master-key check travel together: an import may not mix plain keys with a check
/// value, bring sealed keys without the check that tells their key, or land on a database that has
/// a check value of its own (a `keys …` command run there with some master key).
pub(super) fn check_sealing(
    records: &[DumpRecord],
    target_has_check: bool,
) -> Result<(), super::StoreError> {
    let refuse = |why: &str| Err(super::StoreError::ImportRefused(why.to_owned()));
    if target_has_check {
        return refuse(
            "the target database already has a master key check value; import into a new \
             database (create it with `portcullis migrate`, which makes no keys)",
        );
    }
    let has_check = records.iter().any(
        |r| matches!(r, DumpRecord::ServerSecret { name, .. } if name == super::MASTER_KEY_CHECK),
    );
    let (mut sealed, mut plain) = (0, 0);
    for record in records {
        if let DumpRecord::Key(key) = record {
            if super::is_sealed(&key.private_der) {
                sealed += 1;
            } else {
                plain += 1;
            }
        }
    }
    if has_check && plain > 0 {
        return refuse("the export has plain signing keys beside a master key check value");
    }
    if !has_check && sealed > 0 {
        return refuse(
            "the export has encrypted signing keys but no master key check value to tell their key",
        );
    }
    Ok(())
}

/// Everything a store holds that an export carries, in the order an import must write it.
pub async fn export(store: &dyn super::Store) -> Result<Vec<DumpRecord>, super::StoreError> {
    let mut records = Vec::new();
    for (name, value) in store.server_secrets().await? {
        records.push(DumpRecord::ServerSecret { name, value });
    }
    records.extend(store.clients().await?.into_iter().map(DumpRecord::Client));
    records.extend(store.users().await?.into_iter().map(DumpRecord::User));
    records.extend(store.signing_keys().await?.into_iter().map(DumpRecord::Key));
    records.extend(store.consents().await?.into_iter().map(DumpRecord::Consent));
    Ok(records)
}

pub(super) mod b64 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

pub(super) mod b64_opt {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_some(&URL_SAFE_NO_PAD.encode(bytes)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => URL_SAFE_NO_PAD
                .decode(text.as_bytes())
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
