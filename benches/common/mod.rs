//! What the in-process benches share: a service that answers at once, and a way to drive
//! futures that complete at once without a runtime.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The request and response body of the benches.
pub type Body = String;

/// Polls a future that completes at once (every service here does), without a runtime.
pub fn ready<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// The application behind every layer: 200 at once.
pub fn answer(
    _: http::Request<Body>,
) -> std::future::Ready<Result<http::Response<Body>, Infallible>> {
    std::future::ready(Ok(http::Response::new(Body::from("ok"))))
}
