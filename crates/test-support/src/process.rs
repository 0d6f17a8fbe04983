//! Starting one of the platform's binaries and finding out where it listens.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")))
}

/// Where a binary was built: `NOILLIN_BIN_DIR` if set, otherwise the cargo profile directory
/// this test executable lives in (`target/<profile>/deps/..`). The test command builds the
/// binaries before running tests.
pub fn binary_path(name: &str) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("NOILLIN_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe()?;
            exe.parent()
                .and_then(Path::parent)
                .context("test executable has no profile directory")?
                .to_owned()
        }
    };
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build the binaries first (`cargo build --workspace --bins`, which the test command does)",
            path.display()
        );
    }
    Ok(path)
}

/// One running binary, killed when dropped.
pub struct ServiceProcess {
    pub name: String,
    /// `http://127.0.0.1:{port}`.
    pub url: String,
    pub port: u16,
    pub log: PathBuf,
    child: Child,
}

impl ServiceProcess {
    /// Starts `binary` with `env` (plus `PORT=0`, JSON logs), its output going to a log file in
    /// `dir`, and waits for the line saying where it listens.
    pub fn start(
        binary: &str,
        name: &str,
        dir: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let child = Command::new(binary_path(binary)?)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        let mut process = Self {
            name: name.to_owned(),
            url: String::new(),
            port: 0,
            log,
            child,
        };
        let port = process.wait_for_port(Duration::from_secs(30))?;
        process.port = port;
        process.url = format!("http://127.0.0.1:{port}");
        Ok(process)
    }

    fn wait_for_port(&mut self, timeout: Duration) -> anyhow::Result<u16> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(port) = self.listening_port()? {
                return Ok(port);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} before listening:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not listen within {timeout:?}:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn listening_port(&self) -> anyhow::Result<Option<u16>> {
        let file = File::open(&self.log)?;
        for line in BufReader::new(file).lines() {
            let line = line?;
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["message"] == "listening"
                && let Some(addr) = entry["addr"].as_str()
                && let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse().ok())
            {
                return Ok(Some(port));
            }
        }
        Ok(None)
    }

    /// Everything the process logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process with SIGKILL (no chance to finish anything) and waits for it.
    pub fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        self.child.kill()?;
        Ok(self.child.wait()?)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("{} still running {timeout:?} after SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `binary` to completion with exactly `env` (nothing inherited but `PATH`), for
/// tests of start-up failures. Returns the exit status and everything it printed.
pub fn run_to_exit(
    binary: &str,
    env: &[(&str, &str)],
    timeout: Duration,
) -> anyhow::Result<(ExitStatus, String)> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(binary_path(binary)?)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + timeout;
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{binary} still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status, text))
}
