//! Mail that arrives: every mail is DKIM-signed with the configured key,
//! and the signature verifies with dkimpy (a verifier no one here wrote)
//! against the public key of the DNS record Landlord says to publish.

use std::process::{Command, Stdio};

use landlord_core::secret::Secret;

use crate::backend_tests;
use crate::support::app::{report_skip, services_required, smtp_to, TestApp};
use crate::support::smtp::SmtpServer;
use crate::support::Backend;

backend_tests!(every_mail_is_dkim_signed_and_verifies_with_dkimpy,);

/// The `python` of a virtual environment with dkimpy and cryptography:
/// `TEST_PYTHON` (CI exports it), or one of the `.ci/run` venvs.
fn python_with_dkimpy() -> Option<String> {
    let mut candidates: Vec<String> = std::env::var("TEST_PYTHON").into_iter().collect();
    if let Some(home) = std::env::var_os("HOME") {
        let cache = std::path::Path::new(&home).join(".cache");
        if let Ok(entries) = std::fs::read_dir(cache) {
            let mut venvs: Vec<_> = entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("landlord-venv-")
                })
                .map(|e| e.path().join("bin").join("python").display().to_string())
                .collect();
            venvs.sort();
            venvs.reverse();
            candidates.extend(venvs);
        }
    }
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import dkim, cryptography"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Runs `script` with `input` on its standard input; its standard output.
fn run_python(python: &str, script: &str, input: &[u8]) -> String {
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// A fresh 2048-bit RSA key, PKCS#8 PEM (what `openssl genpkey` writes).
fn new_rsa_key(python: &str) -> String {
    const SCRIPT: &str = r#"
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
print(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
      serialization.NoEncryption()).decode())
"#;
    run_python(python, SCRIPT, b"")
}

async fn every_mail_is_dkim_signed_and_verifies_with_dkimpy(backend: Backend) {
    let test = format!("mail_delivery ({backend:?}): DKIM verifies with dkimpy");
    let Some(python) = python_with_dkimpy() else {
        let why = "no python with dkimpy (set TEST_PYTHON or run .ci/run once)";
        assert!(!services_required(), "{test}: required under CI: {why}");
        report_skip(&test, why);
        return;
    };
    let key = new_rsa_key(&python);
    // The key is given as a file path, as a deployment would mount it.
    let key_dir = tempfile::tempdir().unwrap();
    let key_path = key_dir.path().join("dkim.pem");
    std::fs::write(&key_path, &key).unwrap();

    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let path = key_path.display().to_string();
    let app = TestApp::spawn_with(backend, move |c| {
        smtp_to(c, port);
        c.mail_from = "Landlord <no-reply@mail.landlord.test>".into();
        c.dkim_selector = Some("s2026".into());
        c.dkim_domain = Some("mail.landlord.test".into());
        c.dkim_private_key = Some(Secret::new(path.clone()));
    })
    .await;

    // The record Landlord says to publish, from the same settings.
    let dkim = landlord_mail::Dkim::from_config(&app.config.clone().into_config())
        .unwrap()
        .expect("DKIM is configured");
    assert_eq!(dkim.dns_name(), "s2026._domainkey.mail.landlord.test");
    let record = dkim.dns_record();
    assert!(record.starts_with("v=DKIM1; k=rsa; p=MII"), "{record}");

    app.register("ada@example.com", "Ada").await;
    let mail = smtp
        .wait_for_subject("ada@example.com", "Confirm your email")
        .await;
    assert!(
        mail.data.contains("DKIM-Signature: "),
        "not signed: {}",
        mail.data
    );

    // dkimpy looks the key up through `dnsfunc`: it gets the record above.
    const VERIFY: &str = r#"
import sys, dkim
record, message = sys.stdin.buffer.read().split(b"\n", 1)
def dnsfunc(name, timeout=5):
    assert name == b"s2026._domainkey.mail.landlord.test.", name
    return record
d = dkim.DKIM(message)
ok = d.verify(dnsfunc=dnsfunc)
print("verified" if ok else "refused")
print(d.domain.decode() if d.domain else "")
# Changed in transit: refused.
tampered = message.replace(b"Confirm your email", b"Confirm your emall", 1)
print("tampered-verified" if dkim.verify(tampered, dnsfunc=dnsfunc) else "tampered-refused")
"#;
    let mut input = record.into_bytes();
    input.push(b'\n');
    input.extend_from_slice(mail.data.as_bytes());
    let output = run_python(&python, VERIFY, &input);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        lines,
        ["verified", "mail.landlord.test", "tampered-refused"],
        "{}",
        mail.data
    );
}
