//! Per-client rate limits on the routes that cost the most (search) or send email
//! (subscribe): a keyed token bucket per client address; a client over its limit gets 429 with
//! `Retry-After`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{error_response, WebError};
use crate::state::AppState;

/// Requests per client (by IP address) on the routes that cost the most or send email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Searches (pages, API, search feeds) per minute; 0 = no limit.
    pub search_per_minute: u32,
    /// Subscribe form posts per hour; 0 = no limit.
    pub subscribe_per_hour: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { search_per_minute: 300, subscribe_per_hour: 20 }
    }
}

pub(crate) struct Limiter {
    search: Option<DefaultKeyedRateLimiter<IpAddr>>,
    subscribe: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Limiter {
    pub(crate) fn new(limits: &RateLimits) -> Self {
        // Bursts of a tenth of the rate (at least 5) are let through at once.
        let keyed = |quota: fn(NonZeroU32) -> Quota, n: u32| {
            NonZeroU32::new(n).map(|n| {
                let burst = NonZeroU32::new((n.get() / 10).max(5).min(n.get())).expect("non-zero");
                RateLimiter::keyed(quota(n).allow_burst(burst))
            })
        };
        Limiter { search: keyed(Quota::per_minute, limits.search_per_minute), subscribe: keyed(Quota::per_hour, limits.subscribe_per_hour) }
    }
}

/// Applies the per-client limits; a client over its limit gets 429 with `Retry-After`.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let limiter = state.limiter();
    let which = if matches!(req.uri().path(), "/subscribe" | "/api/v1/subscriptions") { &limiter.subscribe } else { &limiter.search };
    if let Some(l) = which {
        // Clients seen long ago are forgotten once many are remembered.
        if l.len() > 100_000 {
            l.retain_recent();
        }
        if let Err(not_until) = l.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs() + 1;
            return error_response(req.uri().path(), WebError::TooMany(wait));
        }
    }
    next.run(req).await
}

