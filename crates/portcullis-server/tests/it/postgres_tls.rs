//! PostgreSQL over TLS: `sslmode` and `sslrootcert` in the database URL. The test gives the local
//! PostgreSQL a certificate signed by a CA it makes (with the `openssl` command), writes the files
//! through the server itself (`COPY … TO PROGRAM`, so they belong to the server's user), reloads it, and
//! puts the server's previous certificate settings back at the end.

use crate::databases::{TestDatabase, postgres_admin_url};
use portcullis_server::store;
use sqlx::{Connection, Executor};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn openssl(args: &[&str], dir: &Path) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A CA, a server certificate it signs for 127.0.0.1 and localhost, and an unrelated CA.
fn make_certificates(dir: &Path) -> bool {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ca = |name: &str| {
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        let (key, pem, subj) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN={name}"),
        );
        args.extend(["-days", "2", "-subj", &subj, "-keyout", &key, "-out", &pem]);
        openssl(&args, dir)
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let mut request = vec!["req"];
    request.extend(ec);
    request.extend([
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    ca("test-ca")
        && ca("other-ca")
        && openssl(&request, dir)
        && openssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "test-ca.pem",
                "-CAkey",
                "test-ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
            dir,
        )
}

/// Writes `content` to `path` on the database server's machine, as the server's user, readable by
/// it alone.
async fn write_as_server(admin: &mut sqlx::PgConnection, path: &str, content: &str) {
    let lines: Vec<String> = content
        .lines()
        .map(|l| format!("'{}'", l.replace('\'', "''")))
        .collect();
    // Through a shell with umask 077: PostgreSQL refuses a key file others may read, and a
    // plain `COPY … TO 'file'` makes it 0644.
    let sql = format!(
        "COPY (SELECT unnest(ARRAY[{}])) TO PROGRAM 'umask 077 && rm -f {path} && cat > {path}'",
        lines.join(",")
    );
    admin.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
}

async fn settings(admin: &mut sqlx::PgConnection, statements: &[String]) {
    for sql in statements {
        admin
            .execute(sqlx::AssertSqlSafe(sql.clone()))
            .await
            .unwrap();
    }
    admin.execute("SELECT pg_reload_conf()").await.unwrap();
}

fn with_params(url: &str, params: &str) -> String {
    format!("{url}?{params}")
}

#[tokio::test]
async fn postgres_over_tls_verify_full_require_and_a_wrong_ca() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    if !make_certificates(dir.path()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and openssl cannot make the test certificates"
        );
        eprintln!("skipping the PostgreSQL TLS test: openssl is not available");
        return;
    }
    let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    let data: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    let (cert, key) = (
        format!("{data}/portcullis_test_server.pem"),
        format!("{data}/portcullis_test_server.key"),
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    write_as_server(&mut admin, &cert, &read("server.pem")).await;
    write_as_server(&mut admin, &key, &read("server.key")).await;
    settings(
        &mut admin,
        &[
            format!("ALTER SYSTEM SET ssl_cert_file = '{cert}'"),
            format!("ALTER SYSTEM SET ssl_key_file = '{key}'"),
            "ALTER SYSTEM SET ssl = on".into(),
        ],
    )
    .await;

    let ca = dir.path().join("test-ca.pem").display().to_string();
    let other_ca = dir.path().join("other-ca.pem").display().to_string();
    let verify_full = with_params(
        &database.url,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    // The reload takes effect for new connections shortly after it returns.
    let mut connected = None;
    for _ in 0..50 {
        match sqlx::PgConnection::connect(&verify_full).await {
            Ok(conn) => {
                connected = Some(conn);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let outcome = async {
        let mut conn = connected.ok_or("verify-full never connected after the reload")?;
        let encrypted: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        if !encrypted {
            return Err("the verify-full connection is not encrypted".into());
        }
        // Portcullis's own store, on each mode.
        store::open(&verify_full)
            .await
            .map_err(|e| format!("verify-full: {e}"))?;
        for params in [
            "sslmode=require".to_owned(),
            format!("sslmode=verify-ca&sslrootcert={ca}"),
            "sslmode=prefer".to_owned(),
            "sslmode=disable".to_owned(),
        ] {
            store::open(&with_params(&database.url, &params))
                .await
                .map_err(|e| format!("{params}: {e}"))?;
        }
        let wrong = with_params(
            &database.url,
            &format!("sslmode=verify-full&sslrootcert={other_ca}"),
        );
        match store::open(&wrong).await {
            Ok(_) => Err("a certificate from another CA was accepted".to_owned()),
            Err(e) => Ok(e.to_string()),
        }
    }
    .await;

    // The server's own certificate settings back, whatever happened.
    settings(
        &mut admin,
        &[
            "ALTER SYSTEM RESET ssl_cert_file".into(),
            "ALTER SYSTEM RESET ssl_key_file".into(),
            "ALTER SYSTEM RESET ssl".into(),
        ],
    )
    .await;
    let refused = outcome.unwrap();
    eprintln!("wrong CA: {refused}");
    assert!(
        refused.contains("sslrootcert") && refused.contains("certificate"),
        "{refused}"
    );
}
