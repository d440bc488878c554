//! The client's address behind a reverse proxy. Only a request whose TCP peer is a trusted
//! proxy (`trusted_proxies`: addresses or CIDR networks) may say who the client is, in
//! `Forwarded` (RFC 7239) or else `X-Forwarded-For`; the client is the rightmost address in that
//! list that is not itself a trusted proxy. From anyone else the headers are ignored, so a
//! client cannot pick its own rate-limit bucket by sending them.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The networks whose requests may name the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Reads `10.0.0.0/8`, `192.168.1.7`, `::1`… (a bare address is a network of one); an entry
    /// that is neither is an error naming it.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        entries
            .into_iter()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| e.parse::<IpNet>().or_else(|_| e.parse::<IpAddr>().map(IpNet::from)).map_err(|_| format!("trusted_proxies: {e:?} is not an address or a network like 10.0.0.0/8")))
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for(headers);
        // Rightmost first: the nearest hop was written by our proxy, the ones further left by
        // whoever sent the request to it.
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => continue,
                Some(ip) => return *ip,
                // An obfuscated or unreadable hop: nothing to its left can be believed.
                None => return peer,
            }
        }
        hops.first().copied().flatten().unwrap_or(peer)
    }
}

/// An IPv4-mapped IPv6 address as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses a request passed through, leftmost first (`None` for a hop that is not an
/// address): `Forwarded`'s `for=` when present, else `X-Forwarded-For`.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).map(str::to_owned).collect::<Vec<_>>();
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .filter_map(|element| element.split(';').find_map(|pair| pair.trim().split_once('=').filter(|(k, _)| k.eq_ignore_ascii_case("for")).map(|(_, v)| v.trim())))
            .map(|node| parse_node(node.trim_matches('"')))
            .collect();
    }
    values("x-forwarded-for").iter().map(|v| parse_node(v)).collect()
}

/// `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    node.rsplit_once(':').and_then(|(host, _)| host.parse().ok()).map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_proxies_may_name_the_client() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8", "192.168.1.7", "::1"]).unwrap();
        let spoof = headers(&[("x-forwarded-for", "203.0.113.9")]);
        // From an untrusted peer the header is ignored: no choosing one's own bucket.
        assert_eq!(trusted.client(ip("198.51.100.1"), &spoof), ip("198.51.100.1"));
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.1"), &spoof), ip("10.0.0.1"));
        // Through our proxy: the rightmost address it did not add itself.
        let chain = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.20, 10.1.2.3")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &chain), ip("198.51.100.20"), "a client-sent address left of it is not believed");
        assert_eq!(trusted.client(ip("::1"), &headers(&[("x-forwarded-for", "203.0.113.9")])), ip("203.0.113.9"));
        assert_eq!(trusted.client(ip("::ffff:192.168.1.7"), &headers(&[("x-forwarded-for", "203.0.113.9")])), ip("203.0.113.9"));
        // Forwarded (RFC 7239) wins over X-Forwarded-For, with ports, quotes and IPv6.
        let f = headers(&[("forwarded", "for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\";proto=https"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &f), ip("2001:db8:cafe::17"));
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers(&[("forwarded", "for=unknown")])), ip("10.0.0.1"));
        assert_eq!(trusted.client(ip("10.0.0.1"), &headers(&[])), ip("10.0.0.1"));
        assert!(TrustedProxies::parse(["10.0.0.0/33"]).unwrap_err().contains("10.0.0.0/33"));
        assert!(TrustedProxies::parse(["proxy.example"]).is_err());
    }
}
