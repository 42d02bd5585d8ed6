//! Which addresses a metadata-document fetch may connect to. Document URLs are chosen by
//! whoever starts an authorization request, so the fetch is an SSRF risk (CIMD -01 §6.5):
//! only globally routable unicast addresses qualify.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether a fetch may connect to `ip`. Only globally routable unicast addresses qualify
/// (CIMD -01 §6.5: no private, loopback, link-local or other special-use addresses), except
/// loopback when local development is allowed.
pub fn may_connect(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => may_connect_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return may_connect_v4(v4, allow_loopback);
            }
            may_connect_v6(v6, allow_loopback)
        }
    }
}

fn may_connect_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0                               // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99)     // 6to4 relay anycast (RFC 7526)
        || (a == 198 && (18..20).contains(&b))  // benchmarking
        || a >= 240; // reserved
    !special
}

fn may_connect_v6(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let segments = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00     // unique local
        || (segments[0] & 0xffc0) == 0xfe80     // link-local
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0064 && segments[1] == 0xff9b) // NAT64, may reach private v4
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]) // discard-only
        || segments[..6] == [0; 6]              // IPv4-compatible ::/96 (RFC 4291 §2.5.5.1)
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo, tunnels to any v4 (RFC 4380)
        || (segments[0] == 0x2002); // 6to4, may embed private v4
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_global_addresses_may_be_fetched() {
        for blocked in [
            "10.0.0.5",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            // Tunnelling and transition ranges that can carry traffic to any v4 address.
            "::a00:1",
            "::7f00:1",
            "::5db8:d822",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2002:a00:1::1",
            "2002:5db8:d822::1",
            "192.88.99.1",
            "::ffff:192.88.99.1",
        ] {
            assert!(!may_connect(blocked.parse().unwrap(), false), "{blocked}");
        }
        for allowed in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "2001:4860:4860::8888",
        ] {
            assert!(may_connect(allowed.parse().unwrap(), false), "{allowed}");
        }
        assert!(may_connect("127.0.0.1".parse().unwrap(), true));
        assert!(
            !may_connect("10.0.0.5".parse().unwrap(), true),
            "only loopback is relaxed"
        );
    }
}
