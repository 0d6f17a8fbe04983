//! The whole platform for one test: core-api, realtime and worker processes behind an NGINX
//! rendered from the production routing.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use noillin_auth::{Claims, Role, TokenKeys, unix_now};
use noillin_stripe_standin::{StandIn, WebhookSettings};
use reqwest::StatusCode;
use tempfile::TempDir;

use crate::{
    ServiceProcess, SocketClient, SocketError, TestUser, rabbitmq_url, redis_url, repo_root,
    unique_namespace,
};

/// How many of each process to start, and extra environment for all of them.
pub struct PlatformBuilder {
    core_api: usize,
    realtime: usize,
    worker: usize,
    env: Vec<(String, String)>,
    env_by_binary: Vec<(&'static str, String, String)>,
    auth_rate: Option<(String, u32)>,
}

impl Default for PlatformBuilder {
    fn default() -> Self {
        Self {
            core_api: 1,
            realtime: 1,
            worker: 1,
            env: Vec::new(),
            env_by_binary: Vec::new(),
            auth_rate: None,
        }
    }
}

impl PlatformBuilder {
    pub fn core_api(mut self, count: usize) -> Self {
        self.core_api = count;
        self
    }
    pub fn realtime(mut self, count: usize) -> Self {
        self.realtime = count;
        self
    }
    pub fn worker(mut self, count: usize) -> Self {
        self.worker = count;
        self
    }
    /// Keeps the gateway's rate limit on `/api/v1/auth/` at `rate` (e.g. `10r/m`) with `burst`;
    /// otherwise tests get limits far above what they send.
    pub fn auth_rate_limit(mut self, rate: &str, burst: u32) -> Self {
        self.auth_rate = Some((rate.to_owned(), burst));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Environment for one binary only (`core-api`, `realtime` or `worker`), over the rest: to
    /// route one process through a [`crate::TcpProxy`], say.
    pub fn env_for(mut self, binary: &'static str, key: &str, value: &str) -> Self {
        self.env_by_binary
            .push((binary, key.to_owned(), value.to_owned()));
        self
    }

    /// Starts every process, then the gateway, and waits until all of them are ready.
    pub async fn start(self) -> anyhow::Result<Platform> {
        noillin_service::install_crypto_provider();
        let dir = tempfile::Builder::new().prefix("noillin-e2e-").tempdir()?;
        // NGINX workers run as an unprivileged user when the tests run as root; they must be
        // able to reach the config and temp directories inside.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let namespace = unique_namespace();
        let jwt_secret = format!("test-secret-{}", uuid::Uuid::new_v4().simple());
        let mut env = vec![
            ("NAMESPACE".to_owned(), namespace.clone()),
            ("REDIS_URL".to_owned(), redis_url()),
            ("RABBITMQ_URL".to_owned(), rabbitmq_url()),
            ("JWT_SECRET".to_owned(), jwt_secret.clone()),
            (
                "DATA_DIR".to_owned(),
                dir.path().join("data").display().to_string(),
            ),
            (
                "ALLOWED_ORIGINS".to_owned(),
                "http://app.noillin.test".to_owned(),
            ),
            ("RUST_LOG".to_owned(), "info".to_owned()),
            // With MONGO_URI set (CI), each platform gets its own database, as with SQLite its
            // own file. (A URI that names a database itself overrides this.)
            (
                "MONGO_DATABASE".to_owned(),
                format!("noillin_e2e_{namespace}"),
            ),
        ];
        let stripe = crate::start_stripe().await;
        env.extend(crate::stripe_env(&stripe));
        env.extend(self.env);
        // A worker needs a mail transport: the test's SMTP sink when it set one, else the log.
        let smtp_set = env.iter().any(|(key, _)| key == "SMTP_URL")
            || self
                .env_by_binary
                .iter()
                .any(|(_, key, _)| key == "SMTP_URL");
        if !smtp_set {
            env.push(("MAIL_TRANSPORT".to_owned(), "log".to_owned()));
        }

        let mut platform = Platform {
            env: env.clone(),
            env_by_binary: self.env_by_binary,
            gateway: String::new(),
            namespace,
            tokens: TokenKeys::new(jwt_secret.as_bytes()),
            core_api: Vec::new(),
            realtime: Vec::new(),
            worker: Vec::new(),
            nginx: None,
            started: 0,
            auth_rate: self.auth_rate,
            stripe,
            dir,
        };
        for _ in 0..self.core_api {
            let process = platform.spawn("core-api")?;
            platform.core_api.push(process);
        }
        for _ in 0..self.realtime {
            let process = platform.spawn("realtime")?;
            platform.realtime.push(process);
        }
        for _ in 0..self.worker {
            let process = platform.spawn("worker")?;
            platform.worker.push(process);
        }
        platform.start_gateway()?;
        platform
            .stripe
            .controls()
            .set_webhooks(WebhookSettings {
                url: Some(platform.url("/api/v1/payments/webhook")),
                ..WebhookSettings::default()
            })
            .await?;
        platform.wait_until_ready(Duration::from_secs(30)).await?;
        Ok(platform)
    }
}

/// A running platform; dropping it stops every process and deletes its Redis keys, RabbitMQ
/// queues and exchanges, and temporary files.
pub struct Platform {
    /// The gateway's base URL, `http://127.0.0.1:{port}`.
    pub gateway: String,
    /// The namespace of this platform's Redis keys and RabbitMQ names.
    pub namespace: String,
    /// Signs access tokens the way core-api does.
    pub tokens: TokenKeys,
    pub core_api: Vec<ServiceProcess>,
    pub realtime: Vec<ServiceProcess>,
    pub worker: Vec<ServiceProcess>,
    nginx: Option<Child>,
    env: Vec<(String, String)>,
    env_by_binary: Vec<(&'static str, String, String)>,
    /// Processes started so far.
    started: usize,
    auth_rate: Option<(String, u32)>,
    /// Stripe, as the platform's processes reach it; its webhooks go to the gateway.
    pub stripe: StandIn,
    dir: TempDir,
}

impl Platform {
    /// Runs `core-api admin create` against this platform's store and returns the new admin's
    /// id (the line it prints ends with `(id)`).
    pub fn create_admin(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let stdout = self.core_api_command(
            &["admin", "create", "--email", email, "--name", "Test Admin"],
            &[("ADMIN_PASSWORD", password)],
        )?;
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("created administrator "))
            .and_then(|rest| rest.rsplit('(').next())
            .map(|id| id.trim_end_matches(')').to_owned())
            .context("no id in the output")
    }

    /// Runs a `core-api` command (`args`) with this platform's settings plus `extra`, as an
    /// operator would on its host; returns its standard output, or an error with both outputs
    /// when it fails.
    pub fn core_api_command(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let output = Command::new(crate::binary_path("core-api")?)
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .output()?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if !output.status.success() {
            bail!(
                "core-api {} failed: {stdout}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(stdout)
    }

    /// A new administrator (made with [`Platform::create_admin`], as operators make them),
    /// signed in.
    pub async fn sign_in_new_admin(&self) -> TestUser {
        let email = format!(
            "admin-{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let password = "admin passphrase long enough".to_owned();
        let id = self.create_admin(&email, &password).expect("admin created");
        let login = self.api().login(&email, &password).await;
        assert_eq!(
            login.status,
            StatusCode::OK,
            "admin login: {:?}",
            login.body
        );
        TestUser::from_tokens(
            email,
            password,
            &serde_json::json!({ "id": id }),
            &login.body,
        )
    }

    /// Starts one more worker (after one was killed, say) and waits until it is ready (it
    /// consumes).
    pub async fn start_worker(&mut self) -> anyhow::Result<()> {
        let process = self.spawn("worker")?;
        let ready = crate::eventually(Duration::from_secs(30), || {
            let request = reqwest::get(format!("{}/readyz", process.url));
            async move { request.await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        if !ready {
            bail!("{} not ready:\n{}", process.name, process.log_text());
        }
        self.worker.push(process);
        Ok(())
    }

    fn spawn(&mut self, binary: &'static str) -> anyhow::Result<ServiceProcess> {
        self.started += 1;
        let mut env = self.env.clone();
        env.extend(
            self.env_by_binary
                .iter()
                .filter(|(b, _, _)| *b == binary)
                .map(|(_, k, v)| (k.clone(), v.clone())),
        );
        // Numbered in start order, so a restarted worker gets a log file of its own.
        let name = format!("{binary}-{}", self.started);
        ServiceProcess::start(binary, &name, self.dir.path(), &env)
    }

    /// The platform's store, opened as its processes open it (MongoDB when `MONGO_URI` is set,
    /// else its SQLite file), to check what they stored.
    pub async fn store(&self) -> noillin_store::Store {
        let config = noillin_store::StoreConfig::from_vars(|name| {
            self.env
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .or_else(|| std::env::var(name).ok())
        });
        noillin_store::open(&config).await.expect("store opens")
    }

    /// `n` brands written straight into the store, with an access token each: registering
    /// a thousand through the API would spend minutes hashing passwords. They never sign in.
    pub async fn brand_tokens(&self, n: usize) -> Vec<String> {
        use noillin_domain::{BrandProfile, Email, User, UserId, UserStatus};
        let store = self.store().await;
        let now = jiff::Timestamp::now();
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let id = UserId::generate();
            let user = User {
                id: id.clone(),
                email: Email::parse(&format!("brand-{i}-{id}@example.com")).expect("an email"),
                // A placeholder, not a hash of any password.
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$placeholder".into(),
                role: noillin_domain::Role::Brand,
                status: UserStatus::Active,
                token_version: 0,
                display_name: format!("Brand {i}"),
                created_at: now,
                updated_at: now,
            };
            let profile = BrandProfile::new(id.clone(), user.display_name.clone());
            store
                .users
                .insert(&user, &noillin_store::NewProfile::Brand(profile))
                .await
                .expect("a brand stored");
            tokens.push(self.token_for(id.as_str(), Role::Brand));
        }
        tokens
    }

    pub fn builder() -> PlatformBuilder {
        PlatformBuilder::default()
    }

    /// core-api behind the gateway, without realtime or worker: what most API tests need.
    pub async fn start_api_only() -> Platform {
        Self::builder()
            .realtime(0)
            .worker(0)
            .start()
            .await
            .expect("platform starts")
    }

    /// `gateway` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// A client of the HTTP API through the gateway.
    pub fn api(&self) -> crate::ApiClient {
        crate::ApiClient::new(&self.gateway)
    }

    /// The gateway's WebSocket URL for Socket.IO.
    pub fn socket_url(&self) -> String {
        format!("{}/socket/", self.gateway.replacen("http://", "ws://", 1))
    }

    /// A Socket.IO URL that bypasses the gateway and reaches one realtime node directly.
    pub fn node_socket_url(&self, node: usize) -> String {
        format!("ws://127.0.0.1:{}/socket/", self.realtime[node].port)
    }

    /// An access token for a user, signed with this platform's secret, of a sign-in of its
    /// own.
    pub fn token_for(&self, user_id: &str, role: Role) -> String {
        let sign_in = uuid::Uuid::new_v4().simple().to_string();
        self.tokens
            .issue(user_id, role, 0, &sign_in, Duration::from_secs(600))
            .expect("signing a token")
    }

    /// A token for a user, signed with this platform's secret, that expired a minute ago.
    pub fn expired_token_for(&self, user_id: &str, role: Role) -> String {
        let now = unix_now();
        self.tokens
            .sign(&Claims {
                sub: user_id.to_owned(),
                role,
                ver: 0,
                sid: "expired-sign-in".into(),
                iat: now - 600,
                exp: now - 60,
                iss: "noillin".into(),
                aud: "noillin-api".into(),
            })
            .expect("signing a token")
    }

    /// `token` with its payload swapped for that of an admin token of `user_id`, header and
    /// signature kept: a role escalation that the signature check must catch.
    pub fn tampered_token(&self, token: &str, user_id: &str) -> String {
        let admin = self.token_for(user_id, Role::Admin);
        let admin_payload = admin.split('.').nth(1).expect("a JWT payload");
        let mut parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWT has three parts");
        parts[1] = admin_payload;
        parts.join(".")
    }

    /// Opens a socket through the gateway with `token` as the handshake's auth.
    pub async fn connect_socket(&self, token: &str) -> Result<SocketClient, SocketError> {
        SocketClient::connect(
            &self.socket_url(),
            serde_json::json!({ "token": token }),
            None,
        )
        .await
    }

    /// A Redis handle in this platform's namespace, as core-api or the worker hold one.
    pub fn redis(&self) -> noillin_redis::Redis {
        noillin_redis::Redis::new(&redis_url(), &self.namespace).expect("redis handle")
    }

    /// The temporary directory of this platform (logs, data, gateway config).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the gateway's NGINX wrote to its error log so far (render.sh puts the log beside
    /// the config; NGINX writes each message as it happens, unbuffered).
    pub fn gateway_error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nginx/error.log")).unwrap_or_default()
    }

    fn start_gateway(&mut self) -> anyhow::Result<()> {
        let conf_dir = self.dir.path().join("nginx");
        let conf = conf_dir.join("nginx.conf");
        // Written by NGINX once it holds its listening socket (render.sh puts it there).
        let pid_file = conf_dir.join("nginx.pid");
        // A port picked free can be taken before NGINX binds it: try a few.
        for _ in 0..5 {
            let port = free_port()?;
            render_local_gateway(
                &conf,
                port,
                &self.core_api,
                &self.realtime,
                self.auth_rate.as_ref(),
            )?;
            let _ = std::fs::remove_file(&pid_file);
            let mut child = Command::new(nginx_binary())
                .args(["-c", &conf.display().to_string(), "-g", "daemon off;"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .context("starting nginx")?;
            // Either the pid file appears (listening) or NGINX exits (after retrying the bind
            // for a few seconds when the port is taken).
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if child.try_wait()?.is_some() {
                    let output = child.wait_with_output()?;
                    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
                    if !stderr.contains("Address already in use") {
                        bail!("nginx failed to start: {stderr}");
                    }
                    break;
                }
                if pid_file.exists() {
                    self.gateway = format!("http://127.0.0.1:{port}");
                    self.nginx = Some(child);
                    return Ok(());
                }
                if Instant::now() > deadline {
                    stop_nginx(child);
                    bail!("nginx neither listened nor exited within 15 s");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        bail!("no free port for nginx after 5 tries")
    }

    async fn wait_until_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let mut urls: Vec<(String, String)> = self
            .core_api
            .iter()
            .chain(&self.realtime)
            .chain(&self.worker)
            .map(|p| (p.name.clone(), format!("{}/readyz", p.url)))
            .collect();
        urls.push(("gateway".to_owned(), self.url("/api/readyz")));
        for (name, url) in urls {
            let ready = crate::eventually(timeout, || {
                let request = client.get(&url).send();
                async move { request.await.is_ok_and(|r| r.status().is_success()) }
            })
            .await;
            if !ready {
                let logs = self.logs();
                bail!("{name} not ready within {timeout:?} ({url})\n{logs}");
            }
        }
        Ok(())
    }

    /// Every process's log, for failure messages.
    pub fn logs(&self) -> String {
        self.core_api
            .iter()
            .chain(&self.realtime)
            .chain(&self.worker)
            .map(|p| format!("--- {} ---\n{}", p.name, p.log_text()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Reads one process's `/metrics` and returns the value of the series whose line starts
    /// with `series` (name and labels as Prometheus prints them), summed over matches.
    pub async fn metric(&self, process: &ServiceProcess, series: &str) -> f64 {
        let Ok(response) = reqwest::get(format!("{}/metrics", process.url)).await else {
            return 0.0;
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .filter(|line| line.starts_with(series))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn cleanup_shared_servers(&self) {
        // The workers declared retry queues for their delays: delete those, not the defaults.
        let retry = self
            .env
            .iter()
            .find(|(key, _)| key == "WORKER_RETRY_DELAYS_MS")
            .and_then(|(_, delays)| delays.parse().ok())
            .unwrap_or_default();
        crate::delete_shared_state(&self.namespace, retry);
        // core-api declared the holding queue of its hold time for the holds' expiries.
        let hold_ttl = self
            .env
            .iter()
            .find(|(key, _)| key == "HOLD_TTL_SECS")
            .and_then(|(_, secs)| secs.parse().ok())
            .unwrap_or(900);
        // And the holding queue of its unread-message checks.
        let chat_mail_delay = self
            .env
            .iter()
            .find(|(key, _)| key == "CHAT_MAIL_DELAY_SECS")
            .and_then(|(_, secs)| secs.parse().ok())
            .unwrap_or(900);
        crate::delete_delay_tiers(
            &self.namespace,
            &[
                Duration::from_secs(hold_ttl),
                Duration::from_secs(chat_mail_delay),
            ],
        );
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Some(nginx) = self.nginx.take() {
            stop_nginx(nginx);
        }
        self.core_api.clear();
        self.realtime.clear();
        self.worker.clear();
        self.cleanup_shared_servers();
        if std::thread::panicking() {
            eprintln!(
                "platform files kept for inspection: {}",
                self.dir.path().display()
            );
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            let _ = dir.keep();
        }
    }
}

/// Renders the local gateway config with `infra/nginx/render.sh`, the script the run command
/// uses too.
pub fn render_local_gateway(
    conf: &Path,
    port: u16,
    core_api: &[ServiceProcess],
    realtime: &[ServiceProcess],
    auth_rate: Option<&(String, u32)>,
) -> anyhow::Result<()> {
    let upstreams = |ps: &[ServiceProcess]| {
        ps.iter()
            .map(|p| format!("127.0.0.1:{}", p.port))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // A platform started without realtime still needs a syntactically valid upstream.
    let realtime_upstreams = if realtime.is_empty() {
        "127.0.0.1:9".to_owned()
    } else {
        upstreams(realtime)
    };
    let core_upstreams = if core_api.is_empty() {
        "127.0.0.1:9".to_owned()
    } else {
        upstreams(core_api)
    };
    render_gateway(&[
        ("MODE", "local".to_owned()),
        ("OUT", conf.display().to_string()),
        ("LISTEN", port.to_string()),
        ("CORE_API_UPSTREAMS", core_upstreams),
        ("REALTIME_UPSTREAMS", realtime_upstreams),
        ("WORKER_PROCESSES", "1".to_owned()),
        // Tests fire requests far faster than a person; the limits get their own tests.
        ("RATE_API", "10000r/s".to_owned()),
        // Races fire a thousand requests at once.
        ("BURST_API", "5000".to_owned()),
        (
            "RATE_AUTH",
            auth_rate.map_or("10000r/s".to_owned(), |(rate, _)| rate.clone()),
        ),
        (
            "BURST_AUTH",
            auth_rate.map_or("100".to_owned(), |(_, burst)| burst.to_string()),
        ),
    ])
}

/// Runs `infra/nginx/render.sh` with `vars`.
pub fn render_gateway(vars: &[(&str, String)]) -> anyhow::Result<()> {
    let script: PathBuf = repo_root().join("infra/nginx/render.sh");
    let output = Command::new("bash")
        .arg(&script)
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .context("running render.sh")?;
    if !output.status.success() {
        bail!(
            "render.sh failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The nginx executable: `NGINX_BIN`, else `/usr/sbin/nginx` when it exists (Debian's, not on
/// an unprivileged user's PATH), else `nginx` from PATH.
pub fn nginx_binary() -> String {
    if let Ok(bin) = std::env::var("NGINX_BIN") {
        return bin;
    }
    if Path::new("/usr/sbin/nginx").exists() {
        return "/usr/sbin/nginx".to_owned();
    }
    "nginx".to_owned()
}

/// Stops an NGINX master with SIGTERM, which takes its workers down with it (SIGKILL would
/// orphan them, still serving).
fn stop_nginx(mut nginx: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &nginx.id().to_string()])
        .status();
    for _ in 0..100 {
        if let Ok(Some(_)) = nginx.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = nginx.kill();
    let _ = nginx.wait();
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
