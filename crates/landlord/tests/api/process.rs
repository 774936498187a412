//! The `landlord` binary as an operator runs it: subcommands, bad
//! configuration, log lines, graceful shutdown on SIGTERM.

use std::time::Duration;

use crate::support::binary::{http_get, landlord, raw_request, send_sigterm, start, wait_for_exit};

#[test]
fn help_explains_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let output = landlord(&dir).arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("serve"), "{text}");
    assert!(text.contains("migrate"), "{text}");
    assert!(text.contains("--config"), "{text}");
}

#[test]
fn migrate_applies_the_schema_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let output = landlord(&dir).arg("migrate").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(dir.path().join("landlord.db").is_file());
    // Running it again is harmless.
    let again = landlord(&dir).arg("migrate").output().unwrap();
    assert!(again.status.success(), "{again:?}");
}

#[test]
fn bad_configuration_stops_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("LANDLORD_LISTEN", "not-an-address", "listen"),
        ("DATABASE_URL", "mysql://localhost/db", "database_url"),
        ("LANDLORD_BODY_LIMIT_BYTES", "lots", "body_limit_bytes"),
        ("LANDLORD_LOG_FORMAT", "xml", "log_format"),
        ("LANDLORD_LISTN", "127.0.0.1:1", "listn"),
        // A table's key, with `__` between the two.
        (
            "LANDLORD_SMS__TWILIO__ACCOUNT_SID",
            "not-a-sid",
            "sms.twilio.account_sid",
        ),
    ];
    for (variable, value, setting) in cases {
        let output = landlord(&dir).env(variable, value).output().unwrap();
        assert!(!output.status.success(), "{variable}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(setting), "{variable}: {stderr}");
    }
    let output = landlord(&dir)
        .args(["--config", "/nonexistent/landlord.toml"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not exist"));
}

#[test]
fn a_configuration_file_is_read_and_the_environment_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom.toml");
    std::fs::write(
        &file,
        "security_contact = \"mailto:file@landlord.test\"\nbody_limit_bytes = 4096\n",
    )
    .unwrap();
    let mut command = landlord(&dir);
    command
        .arg("--config")
        .arg(&file)
        .env("LANDLORD_SECURITY_CONTACT", "mailto:env@landlord.test");
    let mut server = start(command);
    let text = http_get(&server.address, "/.well-known/security.txt");
    assert!(text.contains("mailto:env@landlord.test"), "{text}");
    send_sigterm(&server.child);
    assert!(wait_for_exit(&mut server.child).success());
}

#[test]
fn a_fresh_start_generates_and_keeps_the_signing_key_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(landlord(&dir));
    let key_file = dir.path().join("secrets").join("token_signing_key");
    assert!(key_file.is_file());
    let key = std::fs::read_to_string(&key_file).unwrap();
    send_sigterm(&server.child);
    assert!(wait_for_exit(&mut server.child).success());
    assert!(
        server
            .startup_lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("generated one")),
        "warning about the generated key: {:#?}",
        server.startup_lines
    );
    let mut again = start(landlord(&dir));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key, "key kept");
    send_sigterm(&again.child);
    assert!(wait_for_exit(&mut again.child).success());
}

#[test]
fn every_log_line_of_a_request_carries_its_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(landlord(&dir));
    let response = raw_request(
        &server.address,
        "GET /__test/panic HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: trace-me-77\r\nConnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 500"), "{response}");
    send_sigterm(&server.child);
    assert!(wait_for_exit(&mut server.child).success());
    let lines: Vec<String> = server.lines.try_iter().collect();
    let of_request: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("/__test/panic"))
        .collect();
    assert!(
        of_request.len() >= 2,
        "expected the error and the access log: {lines:#?}"
    );
    for line in &of_request {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["span"]["request_id"], "trace-me-77", "{line}");
    }
    assert!(
        of_request.iter().any(|l| l.contains("deliberate panic")),
        "the panic is logged: {lines:#?}"
    );
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(landlord(&dir));
    let address = server.address.clone();
    let slow = std::thread::spawn(move || {
        raw_request(
            &address,
            "GET /__test/sleep?ms=1500 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
    });
    // Let the request reach the handler, then ask the server to stop.
    std::thread::sleep(Duration::from_millis(400));
    send_sigterm(&server.child);
    let response = slow.join().expect("the slow request thread");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"data\":1500"), "{response}");
    let status = wait_for_exit(&mut server.child);
    assert_eq!(status.code(), Some(0));
    // And no new connection is accepted afterwards.
    assert!(std::net::TcpStream::connect(&server.address).is_err());
}

/// Reads one HTTP/1.1 answer with a `Content-Length` from a kept-alive
/// connection: (status line and headers, body).
fn read_one_answer(reader: &mut impl std::io::BufRead) -> (String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "answer cut: {head}"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

#[test]
fn a_keep_alive_connection_serves_several_requests_and_sigterm_closes_it_when_idle() {
    use std::io::{BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(landlord(&dir));
    let stream = std::net::TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..3 {
        writer
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let (head, body) = read_one_answer(&mut reader);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(body.contains("\"status\""), "{body}");
    }
    // The connection is idle and kept alive: a stop closes it and exits.
    send_sigterm(&server.child);
    let status = wait_for_exit(&mut server.child);
    assert_eq!(status.code(), Some(0));
    let mut rest = Vec::new();
    let read = reader.read_to_end(&mut rest);
    assert!(
        matches!(read, Ok(0)),
        "the server closed the idle connection: {read:?} {rest:?}"
    );
}

#[test]
fn close_period_runs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = landlord(&dir)
        .args(["close-period", "--month", "2026-10"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("2026-10: 0 cycle(s) created"), "{text}");
    let bad = landlord(&dir)
        .args(["close-period", "--month", "October"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--month"));
    let plan = landlord(&dir)
        .args(["set-plan", "--organization", "nope", "--plan", "gold"])
        .output()
        .unwrap();
    assert!(!plan.status.success());
    assert!(String::from_utf8_lossy(&plan.stderr).contains("not in the catalog"));
}

#[test]
fn close_period_refuses_a_month_that_has_not_ended() {
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let current = landlord_billing::Period::containing(now);
    for month in [current, current.next()] {
        let output = landlord(&dir)
            .args(["close-period", "--month", &month.key()])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--month") && stderr.contains("has not ended"),
            "{stderr}"
        );
    }
}

/// The lines of `landlord config` run with `command`'s environment.
fn configuration(mut command: std::process::Command) -> Vec<String> {
    let output = command.arg("config").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// The line of `key` in `landlord config`'s output.
fn line_of<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines
        .iter()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} is not printed: {lines:#?}"))
}

#[test]
fn a_table_is_set_by_the_environment_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = landlord(&dir);
    command
        .env("LANDLORD_PLANS__STARTER__PRICE", "1000")
        .env("LANDLORD_WEBHOOKS__ALLOW_HTTP", "true")
        .env("LANDLORD_ALERTS__RULES__DEAD_JOBS__THRESHOLD", "3")
        .env("LANDLORD_MARKETPLACE__FEE_BPS__PRO", "750");
    let lines = configuration(command);
    assert_eq!(
        line_of(&lines, "plans.starter.price"),
        "plans.starter.price = 1000  # env LANDLORD_PLANS__STARTER__PRICE"
    );
    assert_eq!(
        line_of(&lines, "plans.starter.currency"),
        "plans.starter.currency = \"USD\"  # default"
    );
    assert_eq!(
        line_of(&lines, "webhooks.allow_http"),
        "webhooks.allow_http = true  # env LANDLORD_WEBHOOKS__ALLOW_HTTP"
    );
    assert_eq!(
        line_of(&lines, "alerts.rules.dead_jobs.threshold"),
        "alerts.rules.dead_jobs.threshold = 3.0  # env LANDLORD_ALERTS__RULES__DEAD_JOBS__THRESHOLD"
    );
    assert_eq!(
        line_of(&lines, "marketplace.fee_bps.pro"),
        "marketplace.fee_bps.pro = 750  # env LANDLORD_MARKETPLACE__FEE_BPS__PRO"
    );
    // The server obeys a table given by a variable: the inbox switched off.
    let mut command = landlord(&dir);
    command.env("LANDLORD_INBOX__ENABLED", "false");
    let mut server = start(command);
    let response = raw_request(
        &server.address,
        "GET /inbox/channels HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    send_sigterm(&server.child);
    assert!(wait_for_exit(&mut server.child).success());
}

#[test]
fn config_prints_each_value_and_where_it_came_from_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom.toml");
    std::fs::write(
        &file,
        "body_limit_bytes = 4096\nstripe_secret_key = \"sk_test_file_secret_value\"\n\n[webhooks]\ntimeout_ms = 5000\n",
    )
    .unwrap();
    let mut command = landlord(&dir);
    command
        .arg("--config")
        .arg(&file)
        .env("LANDLORD_SECURITY_CONTACT", "mailto:env@landlord.test")
        .env(
            "DATABASE_URL",
            "postgres://landlord:db-password-value@db.internal/landlord",
        )
        .env("LANDLORD_STRIPE_WEBHOOK_SECRET", "whsec_env_secret_value");
    let lines = configuration(command);
    let from_file = |key: &str, value: &str| {
        let line = line_of(&lines, key);
        assert!(
            line.starts_with(&format!("{key} = {value}  # file ")) && line.ends_with("custom.toml"),
            "{line}"
        );
    };
    from_file("body_limit_bytes", "4096");
    from_file("webhooks.timeout_ms", "5000");
    from_file("stripe_secret_key", "\"[redacted]\"");
    assert_eq!(
        line_of(&lines, "security_contact"),
        "security_contact = \"mailto:env@landlord.test\"  # env LANDLORD_SECURITY_CONTACT"
    );
    assert_eq!(
        line_of(&lines, "database_url"),
        "database_url = \"[redacted]\"  # env DATABASE_URL"
    );
    assert_eq!(
        line_of(&lines, "stripe_webhook_secret"),
        "stripe_webhook_secret = \"[redacted]\"  # env LANDLORD_STRIPE_WEBHOOK_SECRET"
    );
    assert_eq!(
        line_of(&lines, "request_timeout_secs"),
        "request_timeout_secs = 30  # default"
    );
    assert_eq!(
        line_of(&lines, "smtp_host"),
        "smtp_host = (unset)  # default"
    );
    assert_eq!(
        line_of(&lines, "webhooks.jitter_percent"),
        "webhooks.jitter_percent = 20  # default"
    );
    let printed = lines.join("\n");
    for secret in [
        "sk_test_file_secret_value",
        "db-password-value",
        "whsec_env_secret_value",
    ] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
    }
    // A bad setting stops it as it stops the server.
    let output = landlord(&dir)
        .env("LANDLORD_WEBHOOKS__NOPE", "1")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope"));
}
