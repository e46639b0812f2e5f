//! Where a 3xx answer may lead: a request carries its credential in the body, so it follows a
//! redirect only within the same origin (or an upgrade of the same host to https). Shared by the
//! REST calls and the OAuth token endpoint.

use url::Url;

/// What to do with a 3xx answer.
pub(crate) enum Redirect {
    /// Re-post to this address, on the same host.
    Follow(Url),
    /// No usable `Location`: the answer is read as it is.
    None,
    /// Another host, or https to http: refused, with the target's origin.
    Foreign(String),
    /// A `Location` that is no URL.
    Invalid(String),
}

/// Where a 3xx answer points. Only a move within the same host (a new path, or http upgraded
/// to https) is followed: the body carries the credential, which must not reach another host.
pub(crate) fn redirect_target(current: &Url, response: &reqwest::Response) -> Redirect {
    let Some(location) = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
    else {
        return Redirect::None;
    };
    let target = match current.join(location) {
        Ok(target) => target,
        Err(error) => {
            return Redirect::Invalid(format!(
                "the portal redirected to an invalid address: {error}"
            ))
        }
    };
    match foreign_origin(current, &target) {
        Some(origin) => Redirect::Foreign(origin),
        None => Redirect::Follow(target),
    }
}

/// `target`'s origin when a request to `current` must not go there: another host, another
/// port of the same scheme, or a downgrade from https to http. `None` for the same origin or
/// an upgrade of the same host to https.
pub(crate) fn foreign_origin(current: &Url, target: &Url) -> Option<String> {
    let same_host = current.host_str().map(str::to_ascii_lowercase)
        == target.host_str().map(str::to_ascii_lowercase);
    let same_origin = current.origin() == target.origin();
    let upgrade = current.scheme() == "http" && target.scheme() == "https";
    if same_host && (same_origin || upgrade) {
        return None;
    }
    Some(target.origin().ascii_serialization())
}
