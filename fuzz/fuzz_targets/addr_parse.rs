//! Arbitrary text through the compiler's NB address parsers: MACs, IPv4 and
//! IPv6 networks, `Logical_Switch_Port.addresses` entries, dynamic address
//! requests, and a switch's IPAM settings (`subnet`, `exclude_ips`,
//! `ipv6_prefix`) followed by a few allocations. Nothing may panic, and
//! every address IPAM hands out must lie in its subnet, past the first two
//! addresses and before the broadcast address.
#![no_main]

use std::net::Ipv4Addr;

use lflow::model::addr::{Ipv4Net, Ipv6Net, LportAddresses, Mac};
use lflow::model::ipam::{Request, SwitchIpam};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Mac::parse(text);
    let _ = Ipv6Net::parse(text);
    let _ = LportAddresses::parse(text);
    let _ = Request::parse(text);
    if let Some(net) = Ipv4Net::parse(text) {
        let _ = (net.network(), net.broadcast(), net.subnet());
    }
    // `subnet|exclude_ips|ipv6_prefix`
    let mut parts = text.splitn(3, '|');
    let (subnet, exclude, prefix) = (parts.next(), parts.next(), parts.next());
    let mut diags = Vec::new();
    let mut ipam = SwitchIpam::new(subnet, exclude, prefix, false, "sw", &mut diags);
    let net = subnet.and_then(Ipv4Net::parse);
    for _ in 0..4 {
        let Some(ip) = ipam.allocate() else { break };
        let net = net.expect("an address was handed out, so the subnet parsed");
        let (lo, hi, ip) = (u32::from(net.network()) as u64, u32::from(net.broadcast()) as u64, u32::from(ip) as u64);
        assert!(ip >= lo + 2 && ip < hi, "{} handed out from {}", Ipv4Addr::from(ip as u32), net.subnet());
    }
});
