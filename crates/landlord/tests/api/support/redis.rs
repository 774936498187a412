//! A throwaway `redis-server` per test that needs one, killed when dropped.

use std::time::{Duration, Instant};

use super::app::{report_skip, services_required};

pub struct RedisServer {
    pub port: u16,
    _child: tokio::process::Child,
}

impl RedisServer {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts a server, or reports `test` skipped when `redis-server` is not
    /// installed (fails instead under CI).
    pub async fn start(test: &str) -> Option<RedisServer> {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            listener.local_addr().expect("port").port()
        };
        Self::start_on(test, port).await
    }

    /// Kills the server (an outage: `kill -9`, nothing saved) and waits
    /// until it is gone; returns its port, to start it again on.
    pub async fn kill(mut self) -> u16 {
        self._child.kill().await.expect("redis-server killed");
        self.port
    }

    /// Starts a server on `port` (see [`RedisServer::start`]).
    pub async fn start_on(test: &str, port: u16) -> Option<RedisServer> {
        let Some(binary) = find_binary() else {
            let why = "redis-server is not installed";
            if services_required() {
                panic!("{test}: Redis is required under CI: {why}");
            }
            report_skip(test, why);
            return None;
        };
        let child = tokio::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(RedisServer {
            port,
            _child: child,
        })
    }
}

fn find_binary() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/bin"), "/usr/sbin".into()])
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}
