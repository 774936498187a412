//! The `landlord` binary as an operator runs it: a clean environment, a
//! throwaway data directory, JSON log lines read from its stdout, signals,
//! raw HTTP and its memory as the kernel reports it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

pub const BINARY: &str = env!("CARGO_BIN_EXE_landlord");

/// A command for the binary with a clean environment and a throwaway data
/// directory.
pub fn landlord(data_dir: &TempDir) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANDLORD_DATA_DIR", data_dir.path())
        .env("LANDLORD_LISTEN", "127.0.0.1:0")
        .current_dir(data_dir.path());
    command
}

/// A running server whose JSON log lines arrive on a channel.
pub struct Running {
    pub child: Child,
    pub address: String,
    /// Lines logged before the server listened.
    pub startup_lines: Vec<String>,
    pub lines: mpsc::Receiver<String>,
}

pub fn start(mut command: Command) -> Running {
    let mut child = command
        .env("LANDLORD_LOG_FORMAT", "json")
        .env("LANDLORD_ENABLE_TEST_ROUTES", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut startup_lines = Vec::new();
    let address = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs that it listens");
        if line.contains("landlord is listening") {
            let value: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
            break value["address"]
                .as_str()
                .expect("address field")
                .to_string();
        }
        startup_lines.push(line);
    };
    Running {
        child,
        address,
        startup_lines,
        lines,
    }
}

pub fn send_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

pub fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the server did not exit within 15 s");
}

/// Sends raw HTTP/1.1 and reads the whole answer (the request must ask for
/// `Connection: close`).
pub fn raw_request(address: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read answer");
    response
}

pub fn http_get(address: &str, path: &str) -> String {
    raw_request(
        address,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
}

/// `VmRSS` and `VmHWM` (peak) of process `pid`, in MiB.
pub fn resident_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb / 1024)
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}
