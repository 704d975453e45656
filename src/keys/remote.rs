//! A key set fetched over HTTP and cached: the only place this crate does I/O.
//!
//! | situation | what happens |
//! |---|---|
//! | the cached set has the token's key | used at once: no lock, no fetch, no wait |
//! | the set nears the end of its lifetime (90 %) | still used; one background refresh starts (throttled like any fetch) |
//! | lifetime | `Cache-Control: max-age`, else `Expires`, bounded to 5 min – 24 h; 10 min if the server says nothing |
//! | refresh of an unchanged set | conditional GET (`If-None-Match`); a 304 keeps the keys and renews the lifetime |
//! | cold start, or an unknown `kid` | one fetch, shared by every request waiting for it; the request waits at most the fetch timeout |
//! | throttle | at most one fetch per cooldown (30 s); after failures, backoff doubling from the cooldown up to 5 min |
//! | a fetch is under way | requests that need keys wait for it (at most the fetch timeout) |
//! | unknown `kid` while throttled | refused at once, no fetch: 401, or 503 if the last fetch failed (it may be a real rotation) |
//! | a fetch fails (network, status, timeout, not a JWKS, no usable key) | the last good set keeps serving, for at most 24 h after it was fetched; with none, 503 |
//! | a refreshed set lacks a key | tokens signed with it are refused from then on |
//! | the requester goes away mid-fetch | the fetch runs in its own task and completes for the others |
//!
//! Readers load the current set through an [`ArcSwapOption`]; the async mutex that
//! serializes fetches is only taken inside fetch tasks, so a slow or hanging issuer never
//! delays requests whose key is cached.

use super::discovery::discover_jwks_uri;
use super::fetch::{UrlPolicy, default_client, get_bounded, parse_allowed_url};
use super::jwk::VerifyingKey;
use super::set::{KeySet, MAX_KEYS, is_missing_key};
use crate::algorithm::Algorithm;
use crate::error::{AuthError, ConfigError, KeySourceError};
use arc_swap::ArcSwapOption;
use reqwest::Url;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Defaults, each with its reason.
mod defaults {
    use std::time::Duration;
    /// Used when the JWKS answer says nothing about freshness: rotations propagate within
    /// minutes without a request per token.
    pub const LIFETIME: Duration = Duration::from_secs(10 * 60);
    /// Bounds on what `Cache-Control` / `Expires` may ask: no refetch storm for `max-age=0`,
    /// and removed keys stop working within a day.
    pub const MIN_LIFETIME: Duration = Duration::from_secs(5 * 60);
    pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
    /// At most one fetch per this period: a flood of random `kid`s costs the issuer one
    /// request per period, and a real rotation waits at most this long.
    pub const COOLDOWN: Duration = Duration::from_secs(30);
    /// Failed fetches back off up to this period.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);
    /// A whole fetch (discovery included) that takes longer is abandoned.
    pub const TIMEOUT: Duration = Duration::from_secs(5);
    /// Real JWKS documents are a few KiB.
    pub const MAX_BYTES: usize = 256 * 1024;
    /// The last good set serves through an outage for at most this long after its fetch.
    pub const MAX_STALE: Duration = Duration::from_secs(24 * 60 * 60);
}

/// Where the keys come from.
#[derive(Debug, Clone)]
enum Location {
    Jwks(Url),
    Discover { issuer: String, url: Url },
}

/// What a remote key set is told when built.
#[derive(Debug, Clone)]
struct Settings {
    location: Location,
    /// What metadata and redirects may point at: loopback http only if configured so.
    urls: UrlPolicy,
    /// The issuer these keys belong to, for logs.
    issuer: Option<String>,
    client: reqwest::Client,
    lifetime: Duration,
    min_lifetime: Duration,
    max_lifetime: Duration,
    cooldown: Duration,
    max_backoff: Duration,
    timeout: Duration,
    max_bytes: usize,
    max_keys: usize,
    max_stale: Duration,
}

/// A JWKS fetched from an issuer, cached, and refreshed; see the
/// [policy table](crate::keys::RemoteKeySet#policy).
///
/// # Policy
///
/// Cloning is cheap and shares the cache. Nothing is fetched when it is built; the first
/// request (or [`RemoteKeySet::prefetch`]) fetches.
#[derive(Debug, Clone)]
pub struct RemoteKeySet {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    current: ArcSwapOption<Cached>,
    /// Held by the fetch task: the single flight.
    fetch: tokio::sync::Mutex<FetchState>,
    /// No fetch before this instant (milliseconds after `origin`).
    next_fetch_ms: AtomicU64,
    /// Consecutive failed fetches.
    failures: AtomicU32,
    last_error: ArcSwapOption<KeySourceError>,
    origin: Instant,
    refreshing: AtomicBool,
    /// A fetch is under way: requests that need keys wait for it rather than fail.
    fetching: AtomicBool,
    /// Counts the sets stored with new content (not the 304 renewals).
    generation: AtomicU64,
}

#[derive(Debug)]
struct Cached {
    keys: KeySet,
    fetched_at: Instant,
    lifetime: Duration,
    etag: Option<String>,
    url: Url,
    /// Which set this is: new content gets a new generation, a 304 renewal keeps it.
    generation: u64,
}

#[derive(Debug, Default)]
struct FetchState {
    discovered_jwks_uri: Option<Url>,
}

/// What the cache can say without waiting.
pub(crate) enum CacheLookup {
    Ready(Result<(Arc<VerifyingKey>, u64), AuthError>),
    NeedsFetch,
}

impl RemoteKeySet {
    /// Keys from an explicit `jwks_uri` (https, or http on a loopback host).
    pub fn from_jwks_uri(jwks_uri: &str) -> Result<Self, ConfigError> {
        let url = parse_allowed_url(jwks_uri)?;
        let urls = UrlPolicy::for_configured(&url);
        Ok(Self::with_location(
            Location::Jwks(url),
            urls,
            default_client(urls)?,
        ))
    }

    /// Keys found through the issuer's metadata: RFC 8414
    /// `/.well-known/oauth-authorization-server`, then OpenID
    /// `/.well-known/openid-configuration`. The metadata's `issuer` must equal `issuer`.
    pub fn discover(issuer: &str) -> Result<Self, ConfigError> {
        let url = parse_allowed_url(issuer)?;
        let urls = UrlPolicy::for_configured(&url);
        let location = Location::Discover {
            issuer: issuer.to_owned(),
            url,
        };
        Ok(Self::with_location(location, urls, default_client(urls)?))
    }

    fn with_location(location: Location, urls: UrlPolicy, client: reqwest::Client) -> Self {
        let issuer = match &location {
            Location::Discover { issuer, .. } => Some(issuer.clone()),
            Location::Jwks(_) => None,
        };
        Self::with_settings(Settings {
            issuer,
            location,
            urls,
            client,
            lifetime: defaults::LIFETIME,
            min_lifetime: defaults::MIN_LIFETIME,
            max_lifetime: defaults::MAX_LIFETIME,
            cooldown: defaults::COOLDOWN,
            max_backoff: defaults::MAX_BACKOFF,
            timeout: defaults::TIMEOUT,
            max_bytes: defaults::MAX_BYTES,
            max_keys: MAX_KEYS,
            max_stale: defaults::MAX_STALE,
        })
    }

    fn with_settings(settings: Settings) -> Self {
        RemoteKeySet {
            inner: Arc::new(Inner {
                settings,
                current: ArcSwapOption::empty(),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
                next_fetch_ms: AtomicU64::new(0),
                failures: AtomicU32::new(0),
                last_error: ArcSwapOption::empty(),
                origin: Instant::now(),
                refreshing: AtomicBool::new(false),
                fetching: AtomicBool::new(false),
                generation: AtomicU64::new(0),
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
    /// a response that ends on a non-https URL is still refused (plain http is accepted only
    /// on loopback, and only when the configured URL is loopback http).
    pub fn client(self, client: reqwest::Client) -> Self {
        self.configure(|s| s.client = client)
    }

    /// How long a fetched set is fresh when the server says nothing (default 10 minutes).
    pub fn lifetime(self, lifetime: Duration) -> Self {
        self.configure(|s| s.lifetime = lifetime)
    }

    /// The bounds applied to the server's `Cache-Control` / `Expires` (default 5 min – 24 h).
    pub fn lifetime_bounds(self, min: Duration, max: Duration) -> Self {
        self.configure(|s| {
            s.min_lifetime = min.min(max);
            s.max_lifetime = max;
        })
    }

    /// The least time between two fetches (default 30 s); failures back off from it.
    pub fn cooldown(self, cooldown: Duration) -> Self {
        self.configure(|s| s.cooldown = cooldown)
    }

    /// The longest wait between retries after failures (default 5 minutes).
    pub fn max_backoff(self, max_backoff: Duration) -> Self {
        self.configure(|s| s.max_backoff = max_backoff)
    }

    /// How long one whole fetch may take, discovery and body included (default 5 s).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.configure(|s| s.timeout = timeout)
    }

    /// The largest JWKS or metadata document accepted (default 256 KiB).
    pub fn max_response_bytes(self, max_bytes: usize) -> Self {
        self.configure(|s| s.max_bytes = max_bytes)
    }

    /// The most keys kept from one JWKS; the rest are skipped (default 256).
    pub fn max_keys(self, max_keys: usize) -> Self {
        self.configure(|s| s.max_keys = max_keys)
    }

    /// How long after its fetch the last good set may serve while fetches fail (default
    /// 24 h); after that, 503 until the issuer answers.
    pub fn max_stale(self, max_stale: Duration) -> Self {
        self.configure(|s| s.max_stale = max_stale)
    }

    /// The generation of the set serving now (0 before the first fetch).
    pub(crate) fn generation(&self) -> u64 {
        self.inner
            .current
            .load()
            .as_ref()
            .map_or(0, |c| c.generation)
    }

    /// Names the issuer in this set's log events (when it was built from a `jwks_uri`).
    pub(crate) fn labelled(self, issuer: &str) -> Self {
        if self.inner.settings.issuer.is_some() {
            return self;
        }
        let issuer = issuer.to_owned();
        self.configure(|s| s.issuer = Some(issuer))
    }

    /// The issuer this set was discovered from, if it was.
    pub(crate) fn discovery_issuer(&self) -> Option<&str> {
        match &self.inner.settings.location {
            Location::Discover { issuer, .. } => Some(issuer),
            Location::Jwks(_) => None,
        }
    }

    /// Fetches now, unless a usable set is cached: for failing fast at start-up with the
    /// precise reason (unreachable, wrong metadata `issuer`, no usable key).
    pub async fn prefetch(&self) -> Result<(), KeySourceError> {
        let mut state = self.inner.fetch.lock().await;
        if self.inner.usable_set().is_some() {
            return Ok(());
        }
        self.inner.fetch_and_store(&mut state).await
    }

    /// Looks the key up in the cached set, without waiting.
    pub(crate) fn cached(&self, kid: Option<&str>, alg: Algorithm) -> CacheLookup {
        let inner = &self.inner;
        let Some(cached) = inner.usable_set() else {
            return if inner.may_fetch() || inner.fetching.load(Ordering::Acquire) {
                CacheLookup::NeedsFetch
            } else {
                CacheLookup::Ready(Err(inner.unavailable()))
            };
        };
        match cached.keys.select(kid, alg) {
            Ok(key) => {
                let age = cached.fetched_at.elapsed();
                if age >= cached.lifetime - cached.lifetime / 10 && inner.may_fetch() {
                    self.refresh_in_background();
                }
                CacheLookup::Ready(Ok((key.clone(), cached.generation)))
            }
            Err(e) if is_missing_key(&e) => {
                if inner.may_fetch() || inner.fetching.load(Ordering::Acquire) {
                    CacheLookup::NeedsFetch
                } else if inner.failures.load(Ordering::Acquire) > 0 {
                    CacheLookup::Ready(Err(inner.unavailable()))
                } else {
                    tracing::debug!(issuer = inner.settings.issuer.as_deref(), error = %e, url = %cached.url, "unknown key; refetch refused inside the cooldown");
                    CacheLookup::Ready(Err(e.into()))
                }
            }
            Err(e) => CacheLookup::Ready(Err(e.into())),
        }
    }

    /// Fetches (or waits for the fetch under way) and looks the key up again. The fetch
    /// runs in its own task, so a requester that goes away does not abort it.
    pub(crate) async fn fetch_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<(Arc<VerifyingKey>, u64), AuthError> {
        let before = self.inner.current.load_full();
        let inner = self.inner.clone();
        let fetch = async move { inner.fetch_unless_changed(before).await };
        match tokio::runtime::Handle::try_current() {
            // A JoinError means the runtime is shutting down; the lookup below still answers.
            Ok(runtime) => drop(runtime.spawn(fetch).await),
            Err(_) => fetch.await,
        }
        let inner = &self.inner;
        let Some(cached) = inner.usable_set() else {
            return Err(inner.unavailable());
        };
        match cached.keys.select(kid, alg) {
            Ok(key) => Ok((key.clone(), cached.generation)),
            // The key may be new and the issuer down: that is an outage, not a bad token.
            Err(e) if is_missing_key(&e) && inner.failures.load(Ordering::Acquire) > 0 => {
                Err(inner.unavailable())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// For requests answered without a key lookup (verdict cache hits): whether the set
    /// that verified them may still serve (not past `max_stale`), starting the routine
    /// background refresh if it is due, so that repeated tokens keep the set fresh.
    pub(crate) fn still_serving(&self) -> bool {
        let Some(cached) = self.inner.usable_set() else {
            return false;
        };
        if cached.fetched_at.elapsed() >= cached.lifetime - cached.lifetime / 10
            && self.inner.may_fetch()
        {
            self.refresh_in_background();
        }
        true
    }

    fn refresh_in_background(&self) {
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.refreshing.store(false, Ordering::Release);
            return;
        };
        let inner = self.inner.clone();
        runtime.spawn(async move {
            // Reset even if the task is dropped (its runtime shuts down) before it finishes.
            let _reset = ResetOnDrop(&inner.refreshing);
            let mut state = inner.fetch.lock().await;
            if inner.may_fetch() {
                // A failure is logged and recorded; the cached set keeps serving.
                let _ = inner.fetch_and_store(&mut state).await;
            }
        });
    }
}

struct ResetOnDrop<'a>(&'a AtomicBool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn may_fetch(&self) -> bool {
        self.now_ms() >= self.next_fetch_ms.load(Ordering::Acquire)
    }

    /// The cached set, unless it is older than `max_stale`.
    fn usable_set(&self) -> Option<Arc<Cached>> {
        self.current
            .load_full()
            .filter(|c| c.fetched_at.elapsed() <= self.settings.max_stale)
    }

    fn unavailable(&self) -> AuthError {
        let error = self.last_error.load_full().map(|e| (*e).clone());
        AuthError::KeysUnavailable(error.unwrap_or_else(|| KeySourceError::NoUsableKeys {
            url: self.location_string(),
        }))
    }

    fn location_string(&self) -> String {
        match &self.settings.location {
            Location::Jwks(url) => url.to_string(),
            Location::Discover { url, .. } => url.to_string(),
        }
    }

    /// Fetches unless another fetch replaced the set since `before` was read, or the
    /// throttle forbids it.
    async fn fetch_unless_changed(&self, before: Option<Arc<Cached>>) {
        let mut state = self.fetch.lock().await;
        let now = self.current.load_full();
        let unchanged = match (&before, &now) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if unchanged && self.may_fetch() {
            let _ = self.fetch_and_store(&mut state).await;
        }
    }

    /// One fetch; the caller holds the fetch lock. A good set replaces the cached one; a
    /// failure leaves the cached one in place and backs off.
    async fn fetch_and_store(&self, state: &mut FetchState) -> Result<(), KeySourceError> {
        let started = Instant::now();
        self.fetching.store(true, Ordering::Release);
        let _fetching = ResetOnDrop(&self.fetching);
        // The throttle is armed before the I/O, so no other fetch starts meanwhile.
        self.arm_throttle(self.settings.cooldown);
        let previous = self.current.load_full();
        let result = tokio::time::timeout(
            self.settings.timeout,
            self.fetch_key_set(state, previous.as_deref()),
        )
        .await
        .unwrap_or_else(|_| {
            Err(KeySourceError::Fetch {
                url: self.location_string(),
                reason: format!("no complete answer within {:?}", self.settings.timeout),
            })
        });
        match result {
            Ok(cached) => {
                tracing::info!(
                    issuer = self.settings.issuer.as_deref(),
                    url = %cached.url,
                    keys = cached.keys.len(),
                    lifetime = ?cached.lifetime,
                    revalidated = previous.as_ref().is_some_and(|p| same_keys(p, &cached)),
                    elapsed = ?started.elapsed(),
                    "JWKS fetched"
                );
                let mut cached = cached;
                cached.generation = match previous.as_ref().filter(|p| same_keys(p, &cached)) {
                    Some(previous) => previous.generation,
                    None => self
                        .generation
                        .fetch_add(1, Ordering::AcqRel)
                        .saturating_add(1),
                };
                self.current.store(Some(Arc::new(cached)));
                self.failures.store(0, Ordering::Release);
                self.last_error.store(None);
                Ok(())
            }
            Err(e) => {
                let failures = self
                    .failures
                    .fetch_add(1, Ordering::AcqRel)
                    .saturating_add(1);
                let backoff = backoff(self.settings.cooldown, self.settings.max_backoff, failures);
                self.arm_throttle(backoff);
                tracing::warn!(
                    issuer = self.settings.issuer.as_deref(),
                    error = %e,
                    failures,
                    retry_in = ?backoff,
                    serving_cached = self.usable_set().is_some(),
                    elapsed = ?started.elapsed(),
                    "JWKS fetch failed"
                );
                // The metadata may have moved the JWKS: discover again next time.
                state.discovered_jwks_uri = None;
                self.last_error.store(Some(Arc::new(e.clone())));
                Err(e)
            }
        }
    }

    fn arm_throttle(&self, wait: Duration) {
        let wait = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        self.next_fetch_ms
            .store(self.now_ms().saturating_add(wait), Ordering::Release);
    }

    async fn fetch_key_set(
        &self,
        state: &mut FetchState,
        previous: Option<&Cached>,
    ) -> Result<Cached, KeySourceError> {
        let s = &self.settings;
        let url = match (&s.location, &state.discovered_jwks_uri) {
            (Location::Jwks(url), _) => url.clone(),
            (Location::Discover { .. }, Some(url)) => url.clone(),
            (Location::Discover { issuer, url }, None) => {
                let found = discover_jwks_uri(&s.client, issuer, url, s.max_bytes, s.urls).await?;
                state.discovered_jwks_uri = Some(found.clone());
                found
            }
        };
        let etag = previous
            .filter(|p| p.url == url)
            .and_then(|p| p.etag.as_deref());
        let fetched = get_bounded(&s.client, &url, s.max_bytes, etag, s.urls).await?;
        let lifetime = fetched
            .max_age
            .map(|d| d.clamp(s.min_lifetime, s.max_lifetime))
            .unwrap_or(s.lifetime);
        let keys = match (fetched.body, previous) {
            // 304: the set is unchanged; renew it.
            (None, Some(previous)) => previous.keys.clone(),
            (None, None) => {
                return Err(KeySourceError::InvalidDocument {
                    url: url.to_string(),
                    reason: "304 without a cached set".into(),
                });
            }
            (Some(body), _) => {
                let (keys, _skipped) = KeySet::parse_jwks(&body, s.max_keys).map_err(|e| {
                    KeySourceError::InvalidDocument {
                        url: url.to_string(),
                        reason: e.to_string(),
                    }
                })?;
                keys
            }
        };
        if keys.is_empty() {
            return Err(KeySourceError::NoUsableKeys {
                url: url.to_string(),
            });
        }
        tracing::debug!(%url, status = fetched.status, "JWKS answer");
        Ok(Cached {
            keys,
            fetched_at: Instant::now(),
            lifetime,
            etag: fetched.etag,
            url,
            generation: 0,
        })
    }
}

/// The wait after `failures` consecutive failed fetches: the cooldown, doubling, capped at
/// `max` (never below the cooldown).
fn backoff(cooldown: Duration, max: Duration, failures: u32) -> Duration {
    cooldown
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)))
        .min(max.max(cooldown))
}

fn same_keys(a: &Cached, b: &Cached) -> bool {
    a.etag.is_some() && a.etag == b.etag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_cooldown_up_to_the_cap() {
        let s = Duration::from_secs;
        let waits: Vec<u64> = (1..=7)
            .map(|n| backoff(s(30), s(300), n).as_secs())
            .collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 300, 300, 300]);
        assert_eq!(backoff(s(30), s(10), 3), s(30), "never below the cooldown");
        assert_eq!(backoff(s(30), s(300), u32::MAX), s(300), "no overflow");
        assert_eq!(backoff(Duration::MAX, Duration::MAX, 40), Duration::MAX);
    }
}
