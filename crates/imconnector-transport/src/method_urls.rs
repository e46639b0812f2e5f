//! The URL of each method on the portal's REST base, joined once: `Url::join` parses the
//! whole URL, and a client calls the same few methods over and over.

use std::sync::{Mutex, PoisonError};

use url::Url;

/// How many methods' URLs are kept; past that the cache starts over, as raw calls may name
/// any method.
const CAPACITY: usize = 64;

/// The joined URLs of one REST base (a new base, as after a refresh that moved the portal's
/// `client_endpoint`, starts over). Holds no credential: the access token travels in the body.
#[derive(Default)]
pub(crate) struct MethodUrls {
    cached: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    base: String,
    /// By method name: a list, not a hash map, since a client calls a handful of methods and
    /// every call looks here (hashing the name cost more than the scan).
    urls: Vec<(String, Url)>,
}

impl MethodUrls {
    /// `base` joined with `method`, as [`Url::join`] would return it.
    pub(crate) fn join(&self, base: &Url, method: &str) -> Result<Url, url::ParseError> {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.base != base.as_str() {
            cached.urls.clear();
            cached.base.clear();
            cached.base.push_str(base.as_str());
        }
        if let Some((_, url)) = cached.urls.iter().find(|(known, _)| known == method) {
            return Ok(url.clone());
        }
        let url = base.join(method)?;
        if cached.urls.len() >= CAPACITY {
            cached.urls.clear();
        }
        cached.urls.push((method.to_owned(), url.clone()));
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn joins_like_url_join_and_starts_over_for_a_new_base() {
        let urls = MethodUrls::default();
        let first = Url::parse("https://a.example/rest/").unwrap();
        let second = Url::parse("https://b.example/rest/").unwrap();
        for _ in 0..2 {
            assert_eq!(
                urls.join(&first, "imconnector.status").unwrap(),
                first.join("imconnector.status").unwrap()
            );
        }
        assert_eq!(
            urls.join(&second, "imconnector.status").unwrap().as_str(),
            "https://b.example/rest/imconnector.status"
        );
        for index in 0..=CAPACITY {
            let method = format!("m{index}");
            assert_eq!(
                urls.join(&second, &method).unwrap(),
                second.join(&method).unwrap()
            );
        }
        assert!(urls.cached.lock().unwrap().urls.len() <= CAPACITY);
    }
}
