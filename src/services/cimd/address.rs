//! Which addresses a metadata-document fetch may connect to. Document URLs are chosen by
//! whoever starts an authorization request, so the fetch is an SSRF risk (CIMD -01 §6.5):
//! only globally routable unicast addresses qualify.
//!
//! An IPv6 address can carry an IPv4 address inside it, and a connection to it may reach
//! that IPv4 address (issue 20, item 4: `https://[::ffff:0:a9fe:a9fe]/` embeds
//! 169.254.169.254). So an address is classified after every embedding is unwrapped:
//! IPv4-mapped (`::ffff:0:0/96`, the socket connects to the IPv4 address itself) and the
//! well-known NAT64 prefix (`64:ff9b::/96`, RFC 6052, which a DNS64 network gives for every
//! IPv4-only host) are judged by the IPv4 address they carry, so a global one still works on
//! a NAT64 network. The other embeddings (IPv4-translated `::ffff:0:0:0/96`, IPv4-compatible
//! `::/96`, local-use NAT64 `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32`) are
//! transition mechanisms no document server needs: they are refused whatever they carry,
//! and the refusal names the IPv4 address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not fetched from: the special-use range it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialUse {
    /// The range, as IANA's special-purpose registries (or the RFC) name it.
    pub range: &'static str,
    /// Loopback, which the local development setting allows.
    pub loopback: bool,
}

/// The IANA IPv4 Special-Purpose Address Registry, plus multicast and limited broadcast.
/// Every entry is refused, also the few the registry calls globally reachable (AS112,
/// AMT relays, the 6to4 relay anycast): no metadata document is served from them.
const V4: [(u32, u8, &str); 19] = [
    (0x0000_0000, 8, "0.0.0.0/8 (\"this network\", RFC 791)"),
    (0x0a00_0000, 8, "10.0.0.0/8 (private, RFC 1918)"),
    (
        0x6440_0000,
        10,
        "100.64.0.0/10 (shared address space, RFC 6598)",
    ),
    (0x7f00_0000, 8, "127.0.0.0/8 (loopback, RFC 1122)"),
    (0xa9fe_0000, 16, "169.254.0.0/16 (link-local, RFC 3927)"),
    (0xac10_0000, 12, "172.16.0.0/12 (private, RFC 1918)"),
    (
        0xc000_0000,
        24,
        "192.0.0.0/24 (IETF protocol assignments, RFC 6890)",
    ),
    (0xc000_0200, 24, "192.0.2.0/24 (documentation, RFC 5737)"),
    (0xc01f_c400, 24, "192.31.196.0/24 (AS112-v4, RFC 7535)"),
    (0xc034_c100, 24, "192.52.193.0/24 (AMT, RFC 7450)"),
    (
        0xc058_6300,
        24,
        "192.88.99.0/24 (6to4 relay anycast, RFC 7526)",
    ),
    (0xc0a8_0000, 16, "192.168.0.0/16 (private, RFC 1918)"),
    (
        0xc0af_3000,
        24,
        "192.175.48.0/24 (AS112 direct delegation, RFC 7534)",
    ),
    (0xc612_0000, 15, "198.18.0.0/15 (benchmarking, RFC 2544)"),
    (0xc633_6400, 24, "198.51.100.0/24 (documentation, RFC 5737)"),
    (0xcb00_7100, 24, "203.0.113.0/24 (documentation, RFC 5737)"),
    (0xe000_0000, 4, "224.0.0.0/4 (multicast, RFC 5771)"),
    (0xf000_0000, 4, "240.0.0.0/4 (reserved, RFC 1112)"),
    (
        0xffff_ffff,
        32,
        "255.255.255.255/32 (limited broadcast, RFC 919)",
    ),
];

/// The IANA IPv6 Special-Purpose Address Registry and the other non-global ranges, except
/// the two embeddings judged by the IPv4 address they carry (see the module comment).
const V6: [(u128, u8, &str); 19] = [
    (0, 128, "::/128 (unspecified, RFC 4291)"),
    (1, 128, "::1/128 (loopback, RFC 4291)"),
    (
        0,
        96,
        "::/96 (IPv4-compatible, deprecated, RFC 4291 §2.5.5.1)",
    ),
    (
        0xffff << 48,
        96,
        "::ffff:0:0:0/96 (IPv4-translated, RFC 2765)",
    ),
    (
        0x0064_ff9b_0001 << 80,
        48,
        "64:ff9b:1::/48 (local-use IPv4/IPv6 translation, RFC 8215)",
    ),
    (
        0x0064_ff9b << 96,
        32,
        "64:ff9b::/32 outside 64:ff9b::/96 (unassigned NAT64 space)",
    ),
    (0x0100 << 112, 64, "100::/64 (discard-only, RFC 6666)"),
    (
        (0x0100 << 112) | (1 << 64),
        64,
        "100:0:0:1::/64 (dummy prefix, RFC 9780)",
    ),
    (0x2001_0000 << 96, 32, "2001::/32 (Teredo, RFC 4380)"),
    (
        0x2001 << 112,
        23,
        "2001::/23 (IETF protocol assignments, RFC 2928)",
    ),
    (
        0x2001_0db8 << 96,
        32,
        "2001:db8::/32 (documentation, RFC 3849)",
    ),
    (0x2002 << 112, 16, "2002::/16 (6to4, RFC 3056)"),
    (
        0x2620_004f_8000 << 80,
        48,
        "2620:4f:8000::/48 (AS112 direct delegation, RFC 7534)",
    ),
    (0x3fff << 112, 20, "3fff::/20 (documentation, RFC 9637)"),
    (0x5f00 << 112, 16, "5f00::/16 (SRv6 SIDs, RFC 9602)"),
    (0xfc00 << 112, 7, "fc00::/7 (unique local, RFC 4193)"),
    (0xfe80 << 112, 10, "fe80::/10 (link-local, RFC 4291)"),
    (
        0xfec0 << 112,
        10,
        "fec0::/10 (site-local, deprecated, RFC 3879)",
    ),
    (0xff00 << 112, 8, "ff00::/8 (multicast, RFC 4291)"),
];

/// Whether a fetch may connect to `ip`: only globally routable unicast addresses qualify
/// (CIMD -01 §6.5), except loopback when local development is allowed.
pub fn may_connect(ip: IpAddr, allow_loopback: bool) -> bool {
    match special_use(ip) {
        None => true,
        Some(special) => special.loopback && allow_loopback,
    }
}

/// The special-use range `ip` is in, after unwrapping the IPv4 address an IPv4-mapped or
/// NAT64 address carries; `None` for a global unicast address.
pub fn special_use(ip: IpAddr) -> Option<SpecialUse> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => match unwrapped(v6) {
            Some(v4) => special_v4(v4),
            None => special_v6(v6),
        },
    }
}

/// Why a fetch does not connect to `ip`, in words for the error page: the range, and the
/// IPv4 address an IPv6 address carries.
pub fn refusal(ip: IpAddr, special: SpecialUse) -> String {
    let carried = match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6)
            .map(|v4| format!(", which carries the IPv4 address {v4}"))
            .unwrap_or_default(),
        IpAddr::V4(_) => String::new(),
    };
    format!(
        "{ip} is in {}{carried}: a private, loopback or otherwise special-use address that \
         Tollgate does not fetch from (SSRF protection, CIMD §6.5)",
        special.range
    )
}

/// The IPv4 address inside `ip`, for the embeddings whose connection goes to it.
fn unwrapped(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if bits >> 32 == 0xffff {
        return Some(low); // ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2)
    }
    if bits >> 32 == 0x0064_ff9b << 64 {
        return Some(low); // 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052 §2.1)
    }
    None
}

/// The IPv4 address an IPv6 address carries in any embedding, for the refusal's words.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let segments = ip.segments();
    match segments {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0xffff, 0, ..] | [0x64, 0xff9b, ..] => Some(low),
        [0, 0, 0, 0, 0, 0, ..] if bits > 1 => Some(low),
        [0x2002, ..] => Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32)),
        // Teredo carries the client's address inverted (RFC 4380 §4).
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!((bits & 0xffff_ffff) as u32))),
        _ => None,
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<SpecialUse> {
    let bits = u32::from(ip);
    V4.iter()
        .find(|(net, len, _)| {
            bits.checked_shr(32 - u32::from(*len)).unwrap_or(0)
                == net.checked_shr(32 - u32::from(*len)).unwrap_or(0)
        })
        .map(|(_, _, range)| SpecialUse {
            range,
            loopback: ip.is_loopback(),
        })
}

fn special_v6(ip: Ipv6Addr) -> Option<SpecialUse> {
    let bits = u128::from(ip);
    V6.iter()
        .find(|(net, len, _)| {
            bits.checked_shr(128 - u32::from(*len)).unwrap_or(0)
                == net.checked_shr(128 - u32::from(*len)).unwrap_or(0)
        })
        .map(|(_, _, range)| SpecialUse {
            range,
            loopback: ip.is_loopback(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> Option<&'static str> {
        special_use(ip.parse().unwrap()).map(|s| s.range)
    }

    /// One address at each end of every special-use range, IPv4 and IPv6.
    #[test]
    fn cimd_9_every_special_use_range_is_refused() {
        for (net, len, range) in V4 {
            let first = Ipv4Addr::from(net);
            let last = Ipv4Addr::from(net | u32::MAX.checked_shr(u32::from(len)).unwrap_or(0));
            for ip in [first, last] {
                assert!(special_v4(ip).is_some(), "{ip} in {range}");
                assert!(!may_connect(IpAddr::V4(ip), false), "{ip} in {range}");
                // The same address IPv4-mapped and through NAT64 is refused too.
                for wrapped in [ip.to_ipv6_mapped(), nat64(ip)] {
                    assert!(
                        !may_connect(IpAddr::V6(wrapped), false),
                        "{wrapped} ({range})"
                    );
                }
            }
        }
        for (net, len, range) in V6 {
            let first = Ipv6Addr::from(net);
            let last = Ipv6Addr::from(net | u128::MAX.checked_shr(u32::from(len)).unwrap_or(0));
            for ip in [first, last] {
                // The two unwrapped embeddings are judged by what they carry (below).
                if unwrapped(ip).is_some() {
                    continue;
                }
                assert!(special_v6(ip).is_some(), "{ip} in {range}");
                assert!(!may_connect(IpAddr::V6(ip), false), "{ip} in {range}");
            }
        }
    }

    fn nat64(ip: Ipv4Addr) -> Ipv6Addr {
        Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(u32::from(ip)))
    }

    /// Issue 20, item 4: 169.254.169.254 (cloud metadata) in every embedding.
    #[test]
    fn cimd_9_embedded_ipv4_is_unwrapped() {
        for (ip, range) in [
            ("::ffff:169.254.169.254", "169.254.0.0/16"),
            ("::ffff:0:a9fe:a9fe", "::ffff:0:0:0/96"),
            ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
            ("64:ff9b:1::a9fe:a9fe", "64:ff9b:1::/48"),
            ("64:ff9b:0:1::a9fe:a9fe", "64:ff9b::/32"),
            ("::a9fe:a9fe", "::/96"),
            ("2002:a9fe:a9fe::1", "2002::/16"),
            ("2001:0:4136:e378:8000:63bf:5601:5601", "2001::/32"),
        ] {
            let found = refused(ip).unwrap_or_else(|| panic!("{ip} was allowed"));
            assert!(found.starts_with(range), "{ip}: {found}");
            let v6: Ipv6Addr = ip.parse().unwrap();
            assert_eq!(
                embedded_ipv4(v6),
                Some(Ipv4Addr::new(169, 254, 169, 254)),
                "{ip}"
            );
        }
        // Loopback in an embedding is loopback: relaxed by the development setting only
        // where the connection really goes to loopback.
        assert!(may_connect("::ffff:127.0.0.1".parse().unwrap(), true));
        assert!(!may_connect("::ffff:0:7f00:1".parse().unwrap(), true));
        assert!(!may_connect("::ffff:127.0.0.1".parse().unwrap(), false));
    }

    #[test]
    fn global_addresses_may_be_fetched() {
        for allowed in [
            "93.184.216.34",
            "1.1.1.1",
            "192.0.1.1",
            "2606:2800:220:1:248:1893:25c8:1946",
            "2001:4860:4860::8888",
            "::ffff:93.184.216.34",
            // A DNS64 network's address for an IPv4-only host.
            "64:ff9b::5db8:d822",
        ] {
            assert_eq!(refused(allowed), None, "{allowed}");
            assert!(may_connect(allowed.parse().unwrap(), false), "{allowed}");
        }
        assert!(may_connect("127.0.0.1".parse().unwrap(), true));
        assert!(may_connect("::1".parse().unwrap(), true));
        assert!(
            !may_connect("10.0.0.5".parse().unwrap(), true),
            "only loopback is relaxed"
        );
    }
}
