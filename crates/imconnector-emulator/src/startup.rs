//! [`EmulatorBuilder::start`]: bind, work out the advertised address, set up HTTPS, build the
//! portal and the router, serve.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use axum::Router;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::builder::{EmulatorBuilder, StartError};
use crate::clock::Clock;
use crate::config::SettingsPostShape;
use crate::control::EmulatorHandle;
use crate::delivery::Courier;
use crate::envelope::{error_response, ApiError, MAX_BODY_BYTES};
use crate::state::records::Line;
use crate::state::tokens::{new_rng, random_token};
use crate::state::{new_app, Caps, Portal, PortalSeed, Settings, Shared, Urls, Webhook};
use crate::Emulator;

impl EmulatorBuilder {
    /// Binds, starts serving in the background and returns the running emulator.
    ///
    /// # Errors
    /// [`StartError`] for bad settings (a non-loopback host without a control token, a bad
    /// public URL, unusable TLS files), a busy port, or no tokio runtime.
    pub async fn start(self) -> Result<Emulator, StartError> {
        self.check()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let address = SocketAddr::new(self.host, self.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartError::Bind { address, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| StartError::Bind { address, source })?;
        let urls = self.urls(bound)?;
        let tls = self.tls_setup(bound, &urls)?;
        // Handlers live on loopback in tests: never route event POSTs through a proxy.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(StartError::Client)?;
        let portal = self.portal(urls, tls.is_some());
        let shared = Arc::new(Shared::new(
            portal,
            Clock::new(self.time_scale),
            Courier::new(http, runtime),
            self.control_token.clone(),
        ));
        let router = router(Arc::clone(&shared));
        let (shutdown, shutdown_signal) = watch::channel(false);
        let (acceptor, tls_ca) = match tls {
            Some((acceptor, ca)) => (Some(acceptor), Some(ca)),
            None => (None, None),
        };
        let server = tokio::spawn(crate::server::serve(
            listener,
            router,
            acceptor,
            shutdown_signal,
        ));
        Ok(Emulator {
            handle: EmulatorHandle { shared },
            address: bound,
            shutdown,
            server: Some(server),
            tls_ca,
        })
    }

    /// The advertised addresses: the public URL's, or the bound one (127.0.0.1 for an
    /// unspecified address).
    fn urls(&self, bound: SocketAddr) -> Result<Urls, StartError> {
        let (scheme, domain) = match &self.public_url {
            Some(public) => public_origin(public)?,
            None => {
                let shown = if bound.ip().is_unspecified() {
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
                } else {
                    bound
                };
                let scheme = if self.tls_on() { "https" } else { "http" };
                (scheme.to_owned(), shown.to_string())
            }
        };
        let base = format!("{scheme}://{domain}");
        Ok(Urls {
            rest: format!("{base}/rest/"),
            domain,
            base,
        })
    }

    fn tls_on(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    #[cfg(feature = "tls")]
    fn tls_setup(
        &self,
        bound: SocketAddr,
        urls: &Urls,
    ) -> Result<Option<(crate::server::Acceptor, crate::TlsCa)>, StartError> {
        use crate::tls::{build, default_ca_file, write_trust_file, TlsSource};

        let Some(source) = &self.tls else {
            return Ok(None);
        };
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if !bound.ip().is_unspecified() {
            names.push(bound.ip().to_string());
        }
        if let Ok(public) = url::Url::parse(&urls.base) {
            if let Some(host) = public.host_str() {
                names.push(host.trim_matches(['[', ']']).to_owned());
            }
        }
        names.sort();
        names.dedup();
        let tls = build(source, &names).map_err(StartError::InvalidSetting)?;
        let (path, owned) = match source {
            TlsSource::Generated {
                ca_file: Some(path),
            } => (path.clone(), false),
            TlsSource::Generated { ca_file: None } => (default_ca_file(bound.port()), true),
            TlsSource::Files { cert, .. } => (cert.clone(), false),
        };
        if !matches!(source, TlsSource::Files { .. }) {
            write_trust_file(&tls.trust_pem, &path).map_err(StartError::InvalidSetting)?;
        }
        let ca = crate::TlsCa {
            pem: tls.trust_pem,
            path,
            remove_on_drop: owned,
        };
        Ok(Some((tls.acceptor, ca)))
    }

    #[cfg(not(feature = "tls"))]
    #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
    fn tls_setup(
        &self,
        _bound: SocketAddr,
        _urls: &Urls,
    ) -> Result<Option<(crate::server::Acceptor, crate::TlsCa)>, StartError> {
        Ok(None)
    }

    fn portal(&self, urls: Urls, tls: bool) -> Portal {
        let lines: BTreeMap<i64, Line> = (0..self.lines)
            .map(|offset| {
                let id = self
                    .first_line_id
                    .saturating_add(i64::try_from(offset).unwrap_or(i64::MAX));
                let line = Line::new(id, format!("Open line {id}"));
                (id, line)
            })
            .collect();
        let mut rng = new_rng(self.seed);
        let mut app = new_app(&mut rng);
        if let Some(client_id) = &self.client_id {
            app.client_id.clone_from(client_id);
        }
        if let Some(secret) = &self.client_secret {
            app.client_secret = secret.clone();
        }
        let member_id = random_token(&mut rng);
        let webhook_code = self
            .webhook_code
            .clone()
            .unwrap_or_else(|| SecretString::from(random_token(&mut rng)[..16].to_owned()));
        let token_seed = self.seed.map(|seed| seed.wrapping_add(1));
        Portal::new(PortalSeed {
            time_scale: self.time_scale,
            urls,
            member_id,
            settings: Settings {
                caps: Caps::default(),
                tls,
                allow_http_webhooks: self.allow_http_webhooks,
                rate_limit: self.rate_limit,
                token_ttl: self.token_ttl,
                operating: self.operating_limit,
                soft_error_shape: self.soft_error_shape,
                settings_post_shape: SettingsPostShape::default(),
                faults: self.faults.clone(),
                oauth_faults: self.oauth_faults.clone(),
            },
            app,
            webhook: Webhook {
                user_id: 1,
                code: webhook_code,
            },
            token_seed,
            lines,
            rng,
        })
    }
}

/// `(scheme, host[:port])` of a public URL: http or https, a host, nothing after the origin.
fn public_origin(public: &str) -> Result<(String, String), StartError> {
    let invalid = |why: &str| StartError::InvalidSetting(format!("public_url `{public}`: {why}"));
    let url = url::Url::parse(public).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    let host = url.host_str().ok_or_else(|| invalid("no host"))?;
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(invalid("give scheme, host and port only"));
    }
    let domain = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok((url.scheme().to_owned(), domain))
}

/// Every route, with the control API behind its token check and bodies capped.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/rest/{*path}", any(crate::rest::handle))
        .route("/oauth/token", any(crate::oauth::token))
        .route("/oauth/token/", any(crate::oauth::token))
        .route("/oauth/authorize", get(crate::authorize::authorize))
        .route("/oauth/authorize/", get(crate::authorize::authorize))
        .nest(
            "/_emulator",
            crate::control::http::router(Arc::clone(&shared)),
        )
        .fallback(|| async {
            error_response(&ApiError::new(
                404,
                "ERROR_METHOD_NOT_FOUND",
                "Method not found!",
            ))
        })
        .layer(axum::middleware::map_response(crate::envelope::json_413))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_keep_only_the_origin() {
        let (scheme, domain) = public_origin("https://emulator.test:8443/").expect("valid");
        assert_eq!(
            (scheme.as_str(), domain.as_str()),
            ("https", "emulator.test:8443")
        );
        let (_, domain) = public_origin("http://emulator.test").expect("valid");
        assert_eq!(domain, "emulator.test");
        assert!(public_origin("ftp://x").is_err());
        assert!(public_origin("https://x/rest/").is_err());
        assert!(public_origin("not a url").is_err());
    }
}
