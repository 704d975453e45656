//! The verdict cache: a client reuses its access token for many requests, so the verified
//! claims of exact token bytes are kept and a repeated token costs a lookup, not a signature.
//!
//! | rule | why |
//! |---|---|
//! | keyed by the whole token | no collision can be forged; a changed byte is a miss |
//! | an entry lives until the token's `exp` (plus leeway), at most `max_ttl` (default 5 min) | an expired token is never served from the cache |
//! | `exp` and `nbf` are checked again on every hit | the clock moves between hits |
//! | an entry is used only while its issuer's key set is the one that verified it | a key that leaves the set (rotation, removal) stops verifying at once |
//! | bounded by weight (the token, its claims and the entry's bookkeeping, about 3 × the token + 1 KiB), default 32 MiB | memory stays bounded however many distinct tokens arrive (measured: BENCHMARKS.md) |
//! | only successes are cached | a refused token is refused again by the full checks |
//! | a token is admitted on its second verification | a stream of one-off tokens costs a hash per request, not a cache insert and an eviction (measured: BENCHMARKS.md) |

use crate::token::claims::AccessTokenClaims;
use moka::sync::Cache;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Default bounds of the verdict cache.
pub(crate) mod defaults {
    use std::time::Duration;
    /// 32 MiB holds tens of thousands of typical tokens.
    pub const MAX_BYTES: u64 = 32 * 1024 * 1024;
    /// An entry is re-verified at least this often even for long-lived tokens.
    pub const MAX_TTL: Duration = Duration::from_secs(5 * 60);
}

/// The settings of a verdict cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerdictCacheConfig {
    /// The most memory the entries may weigh, in bytes (estimated: the token and its claims).
    pub max_bytes: u64,
    /// The longest an entry is kept, whatever its token's `exp`.
    pub max_ttl: Duration,
}

impl Default for VerdictCacheConfig {
    fn default() -> Self {
        VerdictCacheConfig {
            max_bytes: defaults::MAX_BYTES,
            max_ttl: defaults::MAX_TTL,
        }
    }
}

/// One cached success.
pub(crate) struct Verdict<X> {
    pub claims: Arc<AccessTokenClaims<X>>,
    /// The index of the trusted issuer that verified it.
    pub issuer: usize,
    /// That issuer's key-set generation at the time.
    pub generation: u64,
    ttl: Duration,
    weight: u32,
}

impl<X> Clone for Verdict<X> {
    fn clone(&self) -> Self {
        Verdict {
            claims: self.claims.clone(),
            issuer: self.issuer,
            generation: self.generation,
            ttl: self.ttl,
            weight: self.weight,
        }
    }
}

struct PerEntryTtl;

impl<X> moka::Expiry<Arc<str>, Verdict<X>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _token: &Arc<str>,
        verdict: &Verdict<X>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(verdict.ttl)
    }
}

/// The cache itself; cloning shares it.
pub(crate) struct VerdictCache<X> {
    entries: Cache<Arc<str>, Verdict<X>>,
    doorkeeper: Arc<Doorkeeper>,
    config: VerdictCacheConfig,
}

impl<X> Clone for VerdictCache<X> {
    fn clone(&self) -> Self {
        VerdictCache {
            entries: self.entries.clone(),
            doorkeeper: self.doorkeeper.clone(),
            config: self.config,
        }
    }
}

/// Remembers a fingerprint of recently verified tokens, one per slot (128 KiB), so that a
/// token is admitted to the cache on its second verification only. A collision or an
/// overwritten slot only delays an admission; it never admits a token that was not verified.
struct Doorkeeper {
    slots: Box<[AtomicU64]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Doorkeeper {
    const SLOTS: usize = 16 * 1024;

    fn new() -> Self {
        Doorkeeper {
            slots: (0..Self::SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Whether `token` was seen here before; marks it as seen.
    fn seen_before(&self, token: &str) -> bool {
        let hash = self.hasher.hash_one(token);
        let fingerprint = (hash >> 20) | 1;
        let Some(slot) = self.slots.get(hash as usize % Self::SLOTS) else {
            return false;
        };
        slot.swap(fingerprint, Ordering::Relaxed) == fingerprint
    }
}

impl<X> std::fmt::Debug for VerdictCache<X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictCache")
            .field("config", &self.config)
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl<X: Send + Sync + 'static> VerdictCache<X> {
    pub(crate) fn new(config: VerdictCacheConfig) -> Self {
        let entries = Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_token: &Arc<str>, verdict: &Verdict<X>| verdict.weight)
            .expire_after(PerEntryTtl)
            .build();
        VerdictCache {
            entries,
            doorkeeper: Arc::new(Doorkeeper::new()),
            config,
        }
    }

    pub(crate) fn config(&self) -> VerdictCacheConfig {
        self.config
    }

    pub(crate) fn get(&self, token: &str) -> Option<Verdict<X>> {
        self.entries.get(token)
    }

    pub(crate) fn remove(&self, token: &str) {
        self.entries.invalidate(token);
    }

    /// Keeps a success for at most `until_expiry` (the token's remaining life) and `max_ttl`,
    /// once the token has been verified before (see [`Doorkeeper`]).
    pub(crate) fn insert(
        &self,
        token: &str,
        claims: Arc<AccessTokenClaims<X>>,
        issuer: usize,
        generation: u64,
        until_expiry: Duration,
    ) {
        let ttl = until_expiry.min(self.config.max_ttl);
        if ttl.is_zero() || !self.doorkeeper.seen_before(token) {
            return;
        }
        // The token, its claims (their strings and collections, about twice the payload)
        // and the cache's own bookkeeping: measured at about this much per entry with
        // `cargo bench --bench memory` (BENCHMARKS.md), so the budget bounds real memory.
        let weight =
            u32::try_from(token.len().saturating_mul(3).saturating_add(1024)).unwrap_or(u32::MAX);
        let verdict = Verdict {
            claims,
            issuer,
            generation,
            ttl,
            weight,
        };
        self.entries.insert(Arc::from(token), verdict);
    }

    #[cfg(test)]
    pub(crate) fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_within_the_weight_bound() {
        let cache: VerdictCache<crate::ExtraClaims> = VerdictCache::new(VerdictCacheConfig {
            max_bytes: 256 * 1024,
            max_ttl: Duration::from_secs(60),
        });
        let claims = Arc::new(
            AccessTokenClaims::from_json(br#"{"iss":"i","aud":"a","exp":4000000000}"#)
                .expect("claims"),
        );
        for i in 0..10_000 {
            let token = format!("{i:0>900}");
            // Admitted on the second verification.
            cache.insert(&token, claims.clone(), 0, 0, Duration::from_secs(60));
            cache.insert(&token, claims.clone(), 0, 0, Duration::from_secs(60));
        }
        let size = cache.weighted_size();
        assert!(size <= 256 * 1024, "{size}");
        assert!(size > 128 * 1024, "the cache is used: {size}");
    }

    #[test]
    fn a_token_is_admitted_on_its_second_verification() {
        let cache: VerdictCache<crate::ExtraClaims> =
            VerdictCache::new(VerdictCacheConfig::default());
        let claims = Arc::new(
            AccessTokenClaims::from_json(br#"{"iss":"i","aud":"a","exp":4000000000}"#)
                .expect("claims"),
        );
        cache.insert("t", claims.clone(), 0, 0, Duration::from_secs(60));
        assert!(cache.get("t").is_none(), "one verification: not admitted");
        cache.insert("t", claims, 0, 0, Duration::from_secs(60));
        assert!(cache.get("t").is_some(), "second verification: admitted");
    }

    #[test]
    fn an_expired_or_zero_life_token_is_not_cached() {
        let cache: VerdictCache<crate::ExtraClaims> =
            VerdictCache::new(VerdictCacheConfig::default());
        let claims = Arc::new(
            AccessTokenClaims::from_json(br#"{"iss":"i","aud":"a","exp":4000000000}"#)
                .expect("claims"),
        );
        cache.insert("t", claims.clone(), 0, 0, Duration::ZERO);
        cache.insert("t", claims, 0, 0, Duration::ZERO);
        assert!(cache.get("t").is_none());
    }
}
