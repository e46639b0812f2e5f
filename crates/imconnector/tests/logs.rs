//! What forged POSTs write to the log: attacker-chosen text escaped (no forged lines, no
//! terminal escapes) and the warnings about refused requests rate-limited.
//!
//! A test binary of its own: it installs a global `tracing` subscriber that captures every
//! line, and the warnings' rate limit is process-wide.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use imconnector::install::{AppUrls, Installer};
use imconnector::portals::{MemoryPortalStore, PortalRegistry};
use imconnector::prelude::*;
use imconnector::receiver::SingleToken;
use imconnector::transport::authorization::OAuthServer;

/// Every log line written so far.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

/// The process's log, captured (installed once).
fn log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        captured
    })
}

/// One test at a time: they count lines of one shared log and one shared rate limit.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Ignore;

impl EventHandler for Ignore {}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/")
}

async fn post(url: &str, body: String) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("answered")
        .status()
        .as_u16()
}

/// A line a forger tried to write on its own.
const FORGED: &str = "FORGED level=ERROR";

/// No line of `text` starts with the forged text, and no terminal escape survived.
fn assert_nothing_forged(text: &str) {
    for line in text.lines() {
        assert!(!line.starts_with(FORGED), "a forged log line: {line:?}");
        assert!(!line.contains('\u{1b}'), "a terminal escape: {line:?}");
    }
}

fn lines_with(text: &str, message: &str) -> usize {
    text.lines().filter(|line| line.contains(message)).count()
}

#[tokio::test]
async fn a_flood_of_forged_events_writes_a_few_warnings() {
    let _one = ONE_AT_A_TIME.lock().await;
    let log = log();
    let before = log.text().len();
    let url = serve(EventReceiver::new(SingleToken::new("the-real-token"), Ignore).router()).await;
    for n in 0..100 {
        let body = imconnector_form::encode(&serde_json::json!({
            "event": "ONIMCONNECTORLINEDELETE",
            "data": "1",
            "auth": {"member_id": format!("m{n}\n{FORGED}"), "application_token": "forged"},
        }));
        assert_eq!(post(&url, body).await, 401);
    }
    let written = &log.text()[before..];
    let warnings = lines_with(written, "refused an event POST");
    assert!(
        (1..=20).contains(&warnings),
        "{warnings} warnings for 100 forged POSTs"
    );
    assert_nothing_forged(written);
}

#[tokio::test]
async fn text_of_a_refused_install_request_is_escaped() {
    let _one = ONE_AT_A_TIME.lock().await;
    let log = log();
    let before = log.text().len();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let urls = AppUrls::new(&format!("http://{address}/bitrix/")).expect("valid base");
    let credentials = OAuthApp::new("local.app", "secret");
    let registry = Arc::new(PortalRegistry::new(
        credentials.clone(),
        MemoryPortalStore::new(),
    ));
    // Nothing listens there: an ONAPPINSTALL is never proven.
    serve_installer(listener, &urls, registry, "http://127.0.0.1:1/oauth/token/");
    let install = urls.install().to_string();

    let unknown_event = format!("event=X%0A{}%1B%5B31m", FORGED.replace(' ', "+"));
    assert_eq!(post(&install, unknown_event).await, 400);
    let unproven = imconnector_form::encode(&serde_json::json!({
        "event": "ONAPPINSTALL",
        "data": {"VERSION": "1", "LANGUAGE_ID": "en"},
        "auth": {
            "access_token": "a", "refresh_token": "r", "expires_in": "3600",
            "domain": format!("evil.example.com\n{FORGED}"), "client_endpoint": "https://evil.example.com/rest/", "server_endpoint": "https://oauth.bitrix.info/rest/",
            "member_id": format!("m1\n{FORGED}\u{1b}[31m"), "application_token": "chosen",
        },
    }));
    post(&install, unproven).await;

    let written = &log.text()[before..];
    assert!(
        written.contains("\\n"),
        "the refusals were logged, escaped: {written}"
    );
    assert_nothing_forged(written);
}

#[tokio::test]
async fn a_successful_install_is_logged_at_info_with_its_member_id() {
    use imconnector::emulator::{AppSetup, Emulator};
    use imconnector::ExposeSecret;

    let _one = ONE_AT_A_TIME.lock().await;
    let log = log();
    let before = log.text().len();
    let portal = Emulator::builder().start().await.expect("emulator starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let urls = AppUrls::new(&format!("http://{address}/bitrix/")).expect("valid base");
    let creds = portal
        .add_app(AppSetup::ui(urls.app(), urls.install()))
        .expect("app added");
    let credentials = OAuthApp::new(&creds.client_id, creds.client_secret.expose_secret());
    let registry = Arc::new(
        PortalRegistry::new(credentials.clone(), MemoryPortalStore::new())
            .client_template(Client::builder().rate_limit(RateLimit::Off)),
    );
    serve_installer(listener, &urls, registry, &portal.oauth_url());

    portal.install(&creds.client_id).await.expect("install");

    let written = &log.text()[before..];
    let installed: Vec<&str> = written
        .lines()
        .filter(|line| line.contains("portal installed"))
        .collect();
    assert_eq!(installed.len(), 1, "one line for the install: {written}");
    assert!(
        installed[0].contains(" INFO ")
            && installed[0].contains(&format!("member_id={}", creds.member_id)),
        "at info, with the member_id as a field: {}",
        installed[0]
    );
}

/// Serves an installer of the `acme_chat` connector on `listener`, proving tokens at
/// `token_url`.
fn serve_installer(
    listener: tokio::net::TcpListener,
    urls: &AppUrls,
    registry: Arc<PortalRegistry<MemoryPortalStore>>,
    token_url: &str,
) {
    let oauth = OAuthServer::new(registry.app().clone())
        .expect("http client")
        .token_url(token_url)
        .expect("valid URL");
    let setup = ConnectorSetup::new(
        ConnectorId::new("acme_chat").expect("valid id"),
        "Acme Chat",
        Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
        SettingsUrl::parse("https://connector.example.com/settings").expect("valid URL"),
        EventsUrl::parse(urls.events().as_str()).expect("valid URL"),
    );
    let installer = Installer::new(registry, oauth, setup, urls).expect("installer");
    let router = axum::Router::new().nest("/bitrix", installer.router(Ignore));
    tokio::spawn(async move { axum::serve(listener, router).await });
}
