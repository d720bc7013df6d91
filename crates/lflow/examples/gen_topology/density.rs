//! An ovn-kubernetes-like Northbound topology for `scripts/bench-density`:
//! node switches with their pods, a management port and a port to the
//! cluster router; a gateway router per node with SNAT to the node's
//! external IP and an external switch with a localnet port; namespaces as
//! port groups with an address set and six ACLs each; services as load
//! balancers in one group on every node switch and gateway router. Its rows
//! are `topology::Insert`s, printed by `examples/gen_topology` like the
//! other topology's. It must never depend on anything but its pod count (no
//! randomness, no clock).
//!
//! Names and addresses (`scripts/bench-density` builds its changes from
//! them): node `n` (from 0) is `node-NNNN`, its chassis `chassis-NNNN`, its
//! switch `node-NNNN` with the pod subnet `10.(128 + n / 256).(n % 256).0/24`
//! (`.1` the cluster router, `.2` the management port `k8s-node-NNNN`, pods
//! from `.3`); its gateway router `GR_node-NNNN`, with `100.64.0.(n + 2)`
//! style addresses on the `join` switch and `172.18.*` ones on the external
//! switch `ext_node-NNNN`. Pod `i` (from 0) is on node `i / per_node(pods)`,
//! in namespace `i % namespaces(pods)`, named `nsNNNN_podNNNNNN`. Namespace
//! `j` has the port group `pg_nsNNNN` and the address set `as_nsNNNN_v4`.
//! The load balancer group is `clusterLBGroup`.

use serde_json::{json, Value};

use super::topology::{named, set, Insert};

/// Pods per node the cluster is sized for: PODS / 60 nodes.
pub const PODS_PER_NODE: usize = 60;
/// Pods per namespace: PODS / 30 namespaces.
pub const PODS_PER_NAMESPACE: usize = 30;
/// Pods per service: PODS / 20 load balancers.
pub const PODS_PER_SERVICE: usize = 20;
/// The cluster's pod network, every node subnet inside it.
pub const CLUSTER_SUBNET: &str = "10.128.0.0/14";
/// The DNS service's VIP that every namespace's egress may reach.
pub const DNS_VIP: &str = "10.96.0.10";

/// Nodes for `pods` pods (at least one).
pub fn nodes(pods: usize) -> usize {
    (pods / PODS_PER_NODE).max(1)
}

/// Namespaces for `pods` pods (at least one).
pub fn namespaces(pods: usize) -> usize {
    (pods / PODS_PER_NAMESPACE).max(1)
}

/// Pods on each node (the last node may have fewer): at most 119, so a
/// node's /24 keeps room for pods added later.
pub fn per_node(pods: usize) -> usize {
    pods.div_ceil(nodes(pods)).max(1)
}

/// `10.X.Y` for node `n`: its pod /24 without the last byte.
fn pod_net(n: usize) -> String {
    format!("10.{}.{}", 128 + (n >> 8), n & 255)
}

/// `A.B` of a gateway router's addresses (`100.64.A.B`, `172.18.A.B`).
fn gw_host(n: usize) -> String {
    let k = n + 2;
    format!("{}.{}", k >> 8, k & 255)
}

/// The MAC ovn-kubernetes derives from an IPv4 address: `0a:58` and its
/// four bytes.
fn mac_of(ip: &str) -> String {
    let bytes: Vec<String> = ip.split('.').map(|b| format!("{:02x}", b.parse::<u8>().unwrap_or(0))).collect();
    format!("0a:58:{}", bytes.join(":"))
}

fn node(n: usize) -> String {
    format!("node-{n:04}")
}

/// A string-to-string OVSDB map.
fn map(pairs: &[(&str, &str)]) -> Value {
    json!(["map", pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()])
}

/// A switch port of type router facing `router_port`.
fn router_lsp(name: &str, router_port: &str) -> Insert {
    let row = json!({"name": name, "type": "router", "addresses": "router",
                     "options": map(&[("router-port", router_port)])});
    Insert::new("Logical_Switch_Port", name.to_string(), row)
}

/// A router port with the MAC derived from `ip` and the network `ip/len`.
fn lrp(name: &str, ip: &str, len: u8) -> Insert {
    let row = json!({"name": name, "mac": mac_of(ip), "networks": format!("{ip}/{len}")});
    Insert::new("Logical_Router_Port", name.to_string(), row)
}

fn route(name: String, prefix: &str, nexthop: &str, policy: Option<&str>) -> Insert {
    let mut row = json!({"ip_prefix": prefix, "nexthop": nexthop});
    if let Some(policy) = policy {
        row["policy"] = json!(policy);
    }
    Insert::new("Logical_Router_Static_Route", name, row)
}

/// The NB of `pods` pods as the module doc describes it: `nodes(pods)`
/// nodes, `namespaces(pods)` namespaces, `pods / 20` (at least one) TCP
/// load balancers (VIP `10.96.X.Y` on port 80, 443 or 8080, two or three
/// pod backends on 8080), and `NB_Global.nb_cfg` 1.
pub fn generate(pods: usize) -> Vec<Insert> {
    let (n_nodes, n_ns, per) = (nodes(pods), namespaces(pods), per_node(pods));
    let mut rows = vec![Insert::new("NB_Global", "nb_global".into(), json!({"nb_cfg": 1}))];
    let pod_ip = |i: usize| format!("{}.{}", pod_net(i / per), 3 + i % per);

    let mut lbs = Vec::new();
    for s in 0..(pods / PODS_PER_SERVICE).max(1) {
        let k = s + 1;
        let vip = format!("10.96.{}.{}:{}", k >> 8, k & 255, [80, 443, 8080][s % 3]);
        let backends: Vec<String> =
            (0..2 + s % 2).map(|b| format!("{}:8080", pod_ip((s * 37 + b * pods / 3) % pods.max(1)))).collect();
        let name = format!("Service_ns{:04}/svc{s:05}_TCP_cluster", s % n_ns);
        lbs.push(named(&format!("lb{s:05}")));
        let row = json!({"name": name, "protocol": "tcp", "vips": map(&[(&vip, &backends.join(","))])});
        rows.push(Insert::new("Load_Balancer", format!("lb{s:05}"), row));
    }
    rows.push(Insert::new(
        "Load_Balancer_Group",
        "clusterLBGroup".into(),
        json!({"name": "clusterLBGroup", "load_balancer": set(lbs)}),
    ));

    // Pods by node and by namespace.
    let mut node_ports: Vec<Vec<Value>> = vec![Vec::new(); n_nodes];
    let mut ns_ports: Vec<Vec<Value>> = vec![Vec::new(); n_ns];
    let mut ns_ips: Vec<Vec<Value>> = vec![Vec::new(); n_ns];
    for i in 0..pods {
        let (n, ns) = (i / per, i % n_ns);
        let ip = pod_ip(i);
        let name = format!("ns{ns:04}_pod{i:06}");
        let addr = format!("{} {ip}", mac_of(&ip));
        rows.push(Insert::new(
            "Logical_Switch_Port",
            name.clone(),
            json!({"name": name, "addresses": addr, "port_security": addr}),
        ));
        node_ports[n].push(named(&name));
        ns_ports[ns].push(named(&name));
        ns_ips[ns].push(json!(ip));
    }

    let (mut cluster_ports, mut cluster_routes, mut join_ports) = (Vec::new(), Vec::new(), Vec::new());
    let join_lrp = "rtoj-ovn_cluster_router";
    rows.push(lrp(join_lrp, "100.64.0.1", 16));
    cluster_ports.push(named(join_lrp));
    rows.push(router_lsp("jtor-ovn_cluster_router", join_lrp));
    join_ports.push(named("jtor-ovn_cluster_router"));
    for (n, mut ports) in node_ports.into_iter().enumerate() {
        let (node, net, host) = (node(n), pod_net(n), gw_host(n));
        let (join_ip, ext_ip) = (format!("100.64.{host}"), format!("172.18.{host}"));

        // The node switch: its pods, the management port, the cluster router's port.
        let mgmt = format!("k8s-{node}");
        let mgmt_ip = format!("{net}.2");
        let addr = format!("{} {mgmt_ip}", mac_of(&mgmt_ip));
        rows.push(Insert::new("Logical_Switch_Port", mgmt.clone(), json!({"name": mgmt, "addresses": addr})));
        ports.push(named(&mgmt));
        let (rtos, stor) = (format!("rtos-{node}"), format!("stor-{node}"));
        rows.push(lrp(&rtos, &format!("{net}.1"), 24));
        cluster_ports.push(named(&rtos));
        rows.push(router_lsp(&stor, &rtos));
        ports.push(named(&stor));
        rows.push(Insert::new(
            "Logical_Switch",
            node.clone(),
            json!({"name": node, "ports": set(ports), "load_balancer_group": named("clusterLBGroup")}),
        ));
        cluster_routes.push(named(&format!("crs_{node}")));
        rows.push(route(format!("crs_{node}"), &format!("{net}.0/24"), &join_ip, Some("src-ip")));
        cluster_routes.push(named(&format!("crn_{node}")));
        rows.push(route(format!("crn_{node}"), &format!("{ext_ip}/32"), &join_ip, None));

        // The gateway router: to the join switch, to the external switch.
        let gr = format!("GR_{node}");
        let (rtoj, jtor) = (format!("rtoj-{gr}"), format!("jtor-{gr}"));
        rows.push(lrp(&rtoj, &join_ip, 16));
        rows.push(router_lsp(&jtor, &rtoj));
        join_ports.push(named(&jtor));
        let (rtoe, etor) = (format!("rtoe-{gr}"), format!("etor-{gr}"));
        rows.push(lrp(&rtoe, &ext_ip, 16));
        rows.push(router_lsp(&etor, &rtoe));
        rows.push(route(format!("grd_{node}"), "0.0.0.0/0", "172.18.0.1", None));
        rows.push(route(format!("grc_{node}"), CLUSTER_SUBNET, "100.64.0.1", None));
        let nat = format!("snat_{node}");
        rows.push(Insert::new(
            "NAT",
            nat.clone(),
            json!({"type": "snat", "logical_ip": format!("{net}.0/24"), "external_ip": ext_ip}),
        ));
        let chassis = format!("chassis-{n:04}");
        rows.push(Insert::new(
            "Logical_Router",
            gr.clone(),
            json!({"name": gr, "ports": set(vec![named(&rtoj), named(&rtoe)]),
                   "static_routes": set(vec![named(&format!("grd_{node}")), named(&format!("grc_{node}"))]),
                   "nat": set(vec![named(&nat)]), "options": map(&[("chassis", &chassis)]),
                   "load_balancer_group": named("clusterLBGroup")}),
        ));

        // The external switch: a localnet port and the gateway router's port.
        let localnet = format!("breth0_{node}");
        rows.push(Insert::new(
            "Logical_Switch_Port",
            localnet.clone(),
            json!({"name": localnet, "type": "localnet", "addresses": "unknown",
                   "options": map(&[("network_name", "physnet")])}),
        ));
        let ext = format!("ext_{node}");
        rows.push(Insert::new(
            "Logical_Switch",
            ext.clone(),
            json!({"name": ext, "ports": set(vec![named(&localnet), named(&etor)])}),
        ));
    }
    rows.push(Insert::new("Logical_Switch", "join".into(), json!({"name": "join", "ports": set(join_ports)})));
    rows.push(Insert::new(
        "Logical_Router",
        "ovn_cluster_router".into(),
        json!({"name": "ovn_cluster_router", "ports": set(cluster_ports), "static_routes": set(cluster_routes)}),
    ));

    for (j, (ports, ips)) in ns_ports.into_iter().zip(ns_ips).enumerate() {
        let (pg, set_name) = (format!("pg_ns{j:04}"), format!("as_ns{j:04}_v4"));
        rows.push(Insert::new(
            "Address_Set",
            set_name.clone(),
            json!({"name": set_name, "addresses": set(ips),
                   "external_ids": map(&[("name", &format!("ns{j:04}_v4"))])}),
        ));
        let acls = [
            ("in_ns", "to-lport", 1001, format!("outport == @{pg} && ip4.src == ${set_name}"), "allow-related"),
            (
                "out_cluster",
                "from-lport",
                1001,
                format!("inport == @{pg} && ip4.dst == {CLUSTER_SUBNET}"),
                "allow-related",
            ),
            ("in_drop", "to-lport", 1000, format!("outport == @{pg} && ip"), "drop"),
            ("out_drop", "from-lport", 1000, format!("inport == @{pg} && ip"), "drop"),
            ("in_icmp", "to-lport", 1002, format!("outport == @{pg} && icmp4"), "allow"),
            (
                "out_dns",
                "from-lport",
                1002,
                format!("inport == @{pg} && ip4.dst == {DNS_VIP} && udp.dst == 53"),
                "allow-related",
            ),
        ];
        let mut refs = Vec::new();
        for (what, direction, priority, match_, action) in acls {
            let name = format!("acl_ns{j:04}_{what}");
            refs.push(named(&name));
            let row = json!({"direction": direction, "priority": priority, "match": match_, "action": action});
            rows.push(Insert::new("ACL", name, row));
        }
        rows.push(Insert::new(
            "Port_Group",
            pg.clone(),
            json!({"name": pg, "ports": set(ports), "acls": set(refs),
                   "external_ids": map(&[("name", &format!("ns{j:04}"))])}),
        ));
    }
    rows
}
