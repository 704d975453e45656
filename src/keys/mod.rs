//! Verification keys: where they come from and how they are chosen for a token.
//!
//! A [`KeySource`] is either a fixed [`KeySet`] (JWKS JSON or PEM, no I/O) or a
//! [`RemoteKeySet`] (fetched from `jwks_uri` or found by discovery, cached, refreshed).
//! Keys are never taken from the token itself (`jku`, `x5u`, `jwk`, `x5c`).

mod discovery;
mod fetch;
mod jwk;
mod remote;
mod set;

pub use jwk::VerifyingKey;
pub use remote::RemoteKeySet;
pub use set::{KeySet, SkippedKey};

use crate::algorithm::Algorithm;
use crate::error::AuthError;
use remote::CacheLookup;
use std::sync::Arc;

/// The keys of one issuer.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Keys known at start-up.
    Static(Arc<KeySet>),
    /// Keys fetched from the issuer.
    Remote(RemoteKeySet),
}

impl From<KeySet> for KeySource {
    fn from(set: KeySet) -> Self {
        KeySource::Static(Arc::new(set))
    }
}

impl From<RemoteKeySet> for KeySource {
    fn from(set: RemoteKeySet) -> Self {
        KeySource::Remote(set)
    }
}

/// The answer of a lookup that may not wait.
pub(crate) enum Lookup {
    /// The key, and the generation of the set it came from.
    Ready(Result<(Arc<VerifyingKey>, u64), AuthError>),
    NeedsFetch,
}

impl KeySource {
    /// Looks the key up without waiting; `NeedsFetch` only for remote sets that have no
    /// such key and may fetch now.
    pub(crate) fn lookup_cached(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        match self {
            KeySource::Static(set) => Lookup::Ready(
                set.select(kid, alg)
                    .map(|k| (k.clone(), 0))
                    .map_err(Into::into),
            ),
            KeySource::Remote(remote) => match remote.cached(kid, alg) {
                CacheLookup::Ready(result) => Lookup::Ready(result),
                CacheLookup::NeedsFetch => Lookup::NeedsFetch,
            },
        }
    }

    /// Looks the key up, fetching the remote set if needed.
    pub(crate) async fn lookup(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<(Arc<VerifyingKey>, u64), AuthError> {
        match self.lookup_cached(kid, alg) {
            Lookup::Ready(result) => result,
            Lookup::NeedsFetch => match self {
                KeySource::Remote(remote) => remote.fetch_for(kid, alg).await,
                KeySource::Static(set) => Ok((set.select(kid, alg)?.clone(), 0)),
            },
        }
    }

    /// Changes whenever the key set is replaced by a different one: a verdict cached under
    /// another generation is verified again.
    pub(crate) fn generation(&self) -> u64 {
        match self {
            KeySource::Static(_) => 0,
            KeySource::Remote(remote) => remote.generation(),
        }
    }

    /// For a request answered without a key lookup: whether the keys may still serve
    /// (a remote set past its maximum stale age may not), letting a remote set start its
    /// routine refresh.
    pub(crate) fn still_serving(&self) -> bool {
        match self {
            KeySource::Static(_) => true,
            KeySource::Remote(remote) => remote.still_serving(),
        }
    }

    /// For remote sets: fetch now, to fail fast at start-up. Static sets are always ready.
    pub async fn prefetch(&self) -> Result<(), crate::error::KeySourceError> {
        match self {
            KeySource::Static(_) => Ok(()),
            KeySource::Remote(remote) => remote.prefetch().await,
        }
    }
}
