//! A throwaway S3-compatible server per test that needs one: moto's server
//! (from `.ci/run`'s Python venv) with a bucket, an IAM user allowed
//! `s3:*` and its access key, and request signing checked (a wrong secret
//! is refused as by AWS). Driven through boto3 by `s3_stand_in.py`; killed
//! when dropped.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::app::{report_skip, services_required};

const SCRIPT: &str = include_str!("s3_stand_in.py");

pub struct S3StandIn {
    pub port: u16,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    python: String,
    child: Child,
}

impl S3StandIn {
    /// Starts moto's server with bucket `bucket`, or reports `test`
    /// skipped when no Python with moto and boto3 is found (fails instead
    /// under CI).
    pub fn start(test: &str, bucket: &str) -> Option<S3StandIn> {
        let Some(python) = crate::support::python::python_with("moto.server, boto3") else {
            let why = "no python with moto[server] (set TEST_PYTHON or run .ci/run once)";
            assert!(!services_required(), "{test}: required under CI: {why}");
            report_skip(test, why);
            return None;
        };
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            listener.local_addr().expect("port").port()
        };
        let child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server starts");
        let mut server = S3StandIn {
            port,
            bucket: bucket.to_string(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            python,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto's server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "moto's server did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let key = server.script(&["setup", &server.endpoint(), bucket]);
        server.access_key_id = key["access_key_id"].as_str().expect("key id").into();
        server.secret_access_key = key["secret_access_key"].as_str().expect("secret").into();
        Some(server)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `s3://BUCKET/prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// Points the `landlord` binary's backups at this server, with its key.
    pub fn configure(&self, command: &mut Command) {
        self.configure_with_secret(command, &self.secret_access_key);
    }

    /// As [`S3StandIn::configure`], with `secret` as the secret access key.
    pub fn configure_with_secret(&self, command: &mut Command, secret: &str) {
        command
            .env("LANDLORD_BACKUP__S3_ENDPOINT", self.endpoint())
            .env("LANDLORD_BACKUP__S3_ALLOW_HTTP", "true")
            .env("LANDLORD_BACKUP__S3_REGION", "us-east-1")
            .env("LANDLORD_BACKUP__S3_ACCESS_KEY_ID", &self.access_key_id)
            .env("LANDLORD_BACKUP__S3_SECRET_ACCESS_KEY", secret);
    }

    /// The objects under `prefix` in the bucket and their sizes, as boto3
    /// lists them.
    pub fn objects(&self, prefix: &str) -> BTreeMap<String, u64> {
        let listed = self.script(&[
            "list",
            &self.endpoint(),
            &self.bucket,
            prefix,
            &self.access_key_id,
            &self.secret_access_key,
        ]);
        listed
            .as_object()
            .expect("an object")
            .iter()
            .map(|(key, size)| (key.clone(), size.as_u64().expect("a size")))
            .collect()
    }

    /// Rewrites object `key` with the byte at `offset` flipped.
    pub fn flip_byte(&self, key: &str, offset: usize) {
        self.script(&[
            "flip",
            &self.endpoint(),
            &self.bucket,
            key,
            &offset.to_string(),
            &self.access_key_id,
            &self.secret_access_key,
        ]);
    }

    fn script(&self, args: &[&str]) -> serde_json::Value {
        let output = Command::new(&self.python)
            .args(["-c", SCRIPT])
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "s3_stand_in.py {} failed: {}",
            args[0],
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|_| panic!("JSON from the script: {stdout}"))
    }
}

impl Drop for S3StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
