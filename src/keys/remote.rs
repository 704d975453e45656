//! A key set fetched over HTTP and cached: the only place this crate does I/O.
//!
//! | situation | what happens |
//! |---|---|
//! | the cached set has the token's key | used at once, no lock, no fetch |
//! | the cached set is older than `lifetime` | still used; one background refresh starts |
//! | cold start, or an unknown `kid` after the cooldown | one fetch, shared by every request waiting for it |
//! | unknown `kid` inside the cooldown | rejected at once, no fetch |
//! | a fetch fails (network, status, body, empty set) | the last good set keeps serving; with none, 503 |
//!
//! Readers load the current set through an [`ArcSwapOption`]; the async mutex that
//! serializes fetches is only taken by requests that need a fetch, so a slow or hanging
//! issuer never delays requests whose key is cached.

use super::discovery::discover_jwks_uri;
use super::fetch::{default_client, get_bounded, parse_allowed_url};
use super::jwk::VerifyingKey;
use super::set::{KeySet, is_missing_key};
use crate::algorithm::Algorithm;
use crate::error::{AuthError, ConfigError, KeySourceError, ValidationError};
use arc_swap::ArcSwapOption;
use reqwest::Url;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Defaults, each with its reason.
mod defaults {
    use std::time::Duration;
    /// Refresh routinely after this long: rotations propagate within minutes.
    pub const LIFETIME: Duration = Duration::from_secs(10 * 60);
    /// At most one fetch for unknown keys per this period: a flood of random `kid`s costs
    /// the issuer one request per period, and a real rotation waits at most this long.
    pub const COOLDOWN: Duration = Duration::from_secs(30);
    /// A fetch that takes longer is abandoned: a request waits at most this long.
    pub const TIMEOUT: Duration = Duration::from_secs(5);
    /// Real JWKS documents are a few KiB.
    pub const MAX_BYTES: usize = 256 * 1024;
}

/// Where the keys come from.
#[derive(Debug, Clone)]
enum Location {
    Jwks(Url),
    Discover { issuer: String, url: Url },
}

/// A JWKS fetched from an issuer, cached, and refreshed.
///
/// Cloning is cheap and shares the cache.
#[derive(Debug, Clone)]
pub struct RemoteKeySet {
    inner: Arc<Inner>,
}

/// What a remote key set is told when built.
#[derive(Debug, Clone)]
struct Settings {
    location: Location,
    client: reqwest::Client,
    lifetime: Duration,
    cooldown: Duration,
    timeout: Duration,
    max_bytes: usize,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    current: ArcSwapOption<Cached>,
    /// Held while fetching: the single flight.
    fetch: tokio::sync::Mutex<FetchState>,
    /// When the last fetch started, as milliseconds after `origin` plus one (0: never).
    last_attempt: AtomicU64,
    origin: Instant,
    background_refresh: AtomicBool,
}

#[derive(Debug)]
struct Cached {
    keys: KeySet,
    fetched_at: Instant,
}

#[derive(Debug, Default)]
struct FetchState {
    discovered_jwks_uri: Option<Url>,
    last_error: Option<KeySourceError>,
}

/// What the cache can say without waiting.
pub(crate) enum CacheLookup {
    Ready(Result<Arc<VerifyingKey>, ValidationError>),
    NeedsFetch,
}

impl RemoteKeySet {
    /// Keys from an explicit `jwks_uri` (https, or http on a loopback host).
    pub fn from_jwks_uri(jwks_uri: &str) -> Result<Self, ConfigError> {
        let url = parse_allowed_url(jwks_uri)?;
        Ok(Self::with_location(Location::Jwks(url), default_client()?))
    }

    /// Keys found through the issuer's metadata: RFC 8414
    /// `/.well-known/oauth-authorization-server`, then OpenID
    /// `/.well-known/openid-configuration`. The metadata's `issuer` must equal `issuer`.
    pub fn discover(issuer: &str) -> Result<Self, ConfigError> {
        let url = parse_allowed_url(issuer)?;
        let location = Location::Discover {
            issuer: issuer.to_owned(),
            url,
        };
        Ok(Self::with_location(location, default_client()?))
    }

    fn with_location(location: Location, client: reqwest::Client) -> Self {
        Self::with_settings(Settings {
            location,
            client,
            lifetime: defaults::LIFETIME,
            cooldown: defaults::COOLDOWN,
            timeout: defaults::TIMEOUT,
            max_bytes: defaults::MAX_BYTES,
        })
    }

    fn with_settings(settings: Settings) -> Self {
        RemoteKeySet {
            inner: Arc::new(Inner {
                settings,
                current: ArcSwapOption::empty(),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
                last_attempt: AtomicU64::new(0),
                origin: Instant::now(),
                background_refresh: AtomicBool::new(false),
            }),
        }
    }

    /// The setters are for building: each returns a set with its own, empty cache.
    fn configure(self, f: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.inner.settings.clone();
        f(&mut settings);
        Self::with_settings(settings)
    }

    /// Use this client (its proxy, TLS roots, timeouts). Its redirect policy is its own, but
    /// a response that ends on a non-https URL is still refused.
    pub fn client(self, client: reqwest::Client) -> Self {
        self.configure(|i| i.client = client)
    }

    /// How long a fetched set is fresh (default 10 minutes).
    pub fn lifetime(self, lifetime: Duration) -> Self {
        self.configure(|i| i.lifetime = lifetime)
    }

    /// The least time between two fetches caused by unknown keys (default 30 s).
    pub fn cooldown(self, cooldown: Duration) -> Self {
        self.configure(|i| i.cooldown = cooldown)
    }

    /// How long one fetch may take, body included (default 5 s).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.configure(|i| i.timeout = timeout)
    }

    /// The largest JWKS or metadata document accepted (default 256 KiB).
    pub fn max_response_bytes(self, max_bytes: usize) -> Self {
        self.configure(|i| i.max_bytes = max_bytes)
    }

    /// The issuer this set was discovered from, if it was.
    pub(crate) fn discovery_issuer(&self) -> Option<&str> {
        match &self.inner.settings.location {
            Location::Discover { issuer, .. } => Some(issuer),
            Location::Jwks(_) => None,
        }
    }

    /// Fetches now, unless a set is cached; for failing fast at start-up.
    pub async fn prefetch(&self) -> Result<(), KeySourceError> {
        let mut state = self.inner.fetch.lock().await;
        if self.inner.current.load().is_some() {
            return Ok(());
        }
        self.inner.fetch_and_store(&mut state).await
    }

    /// Looks the key up in the cached set, without waiting.
    pub(crate) fn cached(&self, kid: Option<&str>, alg: Algorithm) -> CacheLookup {
        let guard = self.inner.current.load();
        let Some(cached) = guard.as_ref() else {
            return CacheLookup::NeedsFetch;
        };
        match cached.keys.select(kid, alg) {
            Ok(key) => {
                if cached.fetched_at.elapsed() >= self.inner.settings.lifetime {
                    self.refresh_in_background();
                }
                CacheLookup::Ready(Ok(key.clone()))
            }
            Err(e) if is_missing_key(&e) && self.inner.cooldown_over() => CacheLookup::NeedsFetch,
            Err(e) => {
                if is_missing_key(&e) {
                    tracing::debug!(error = %e, "key not cached; refetch refused inside the cooldown");
                }
                CacheLookup::Ready(Err(e))
            }
        }
    }

    /// Fetches (or waits for the fetch another request started) and looks the key up again.
    pub(crate) async fn fetch_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyingKey>, AuthError> {
        let before = self.inner.current.load_full();
        let mut state = self.inner.fetch.lock().await;
        let now = self.inner.current.load_full();
        let changed = match (&before, &now) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (None, Some(_)) => true,
            _ => false,
        };
        if !changed && self.inner.cooldown_over() {
            // A failure is recorded in `state`; a cached set, if any, still answers below.
            let _ = self.inner.fetch_and_store(&mut state).await;
        }
        match self.inner.current.load().as_ref() {
            Some(cached) => Ok(cached.keys.select(kid, alg)?.clone()),
            None => {
                let error = state
                    .last_error
                    .clone()
                    .unwrap_or(KeySourceError::NoUsableKeys {
                        url: self.inner.location_string(),
                    });
                Err(AuthError::KeysUnavailable(error))
            }
        }
    }

    fn refresh_in_background(&self) {
        if self.inner.background_refresh.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner
                .background_refresh
                .store(false, Ordering::Release);
            return;
        };
        let inner = self.inner.clone();
        runtime.spawn(async move {
            {
                let mut state = inner.fetch.lock().await;
                let stale = inner
                    .current
                    .load()
                    .as_ref()
                    .is_none_or(|c| c.fetched_at.elapsed() >= inner.settings.lifetime);
                if stale {
                    // A failure is logged and recorded; the cached set keeps serving.
                    let _ = inner.fetch_and_store(&mut state).await;
                }
            }
            inner.background_refresh.store(false, Ordering::Release);
        });
    }
}

impl Inner {
    fn cooldown_over(&self) -> bool {
        match self.last_attempt.load(Ordering::Acquire) {
            0 => true,
            stamp => {
                let started = self.origin + Duration::from_millis(stamp - 1);
                started.elapsed() >= self.settings.cooldown
            }
        }
    }

    fn location_string(&self) -> String {
        match &self.settings.location {
            Location::Jwks(url) => url.to_string(),
            Location::Discover { url, .. } => url.to_string(),
        }
    }

    /// One fetch; the caller holds the fetch lock. A good set replaces the cached one; a
    /// failure leaves the cached one in place.
    async fn fetch_and_store(&self, state: &mut FetchState) -> Result<(), KeySourceError> {
        let millis = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_attempt.store(millis + 1, Ordering::Release);
        let started = Instant::now();
        let result = self.fetch_key_set(state).await;
        match result {
            Ok((keys, url)) => {
                tracing::info!(%url, keys = keys.len(), elapsed = ?started.elapsed(), "JWKS fetched");
                self.current.store(Some(Arc::new(Cached {
                    keys,
                    fetched_at: Instant::now(),
                })));
                state.last_error = None;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, elapsed = ?started.elapsed(), cached = self.current.load().is_some(), "JWKS fetch failed");
                // The metadata may have moved the JWKS: discover again next time.
                state.discovered_jwks_uri = None;
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn fetch_key_set(&self, state: &mut FetchState) -> Result<(KeySet, Url), KeySourceError> {
        let url = match (&self.settings.location, &state.discovered_jwks_uri) {
            (Location::Jwks(url), _) => url.clone(),
            (Location::Discover { .. }, Some(url)) => url.clone(),
            (Location::Discover { issuer, url }, None) => {
                let found = discover_jwks_uri(
                    &self.settings.client,
                    issuer,
                    url,
                    self.settings.timeout,
                    self.settings.max_bytes,
                )
                .await?;
                state.discovered_jwks_uri = Some(found.clone());
                found
            }
        };
        let body = get_bounded(
            &self.settings.client,
            &url,
            self.settings.timeout,
            self.settings.max_bytes,
        )
        .await?;
        let (keys, _skipped) =
            KeySet::from_jwks_lenient(&body).map_err(|e| KeySourceError::InvalidDocument {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        if keys.is_empty() {
            return Err(KeySourceError::NoUsableKeys {
                url: url.to_string(),
            });
        }
        Ok((keys, url))
    }
}
