//! Every pipeline stage of the logical switch and logical router, with the
//! table number OVN 23.03 gives it and the name it writes into a flow's
//! `external_ids:stage-name`. The one place stage numbers live.

/// Which pipeline of a datapath a flow belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pipeline {
    Ingress,
    Egress,
}

impl Pipeline {
    /// The SB `Logical_Flow.pipeline` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Pipeline::Ingress => "ingress",
            Pipeline::Egress => "egress",
        }
    }
}

macro_rules! stages {
    ($($variant:ident = ($pipeline:ident, $table:expr, $name:expr),)*) => {
        /// A pipeline stage: `Ls*` of logical switches, `Lr*` of routers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Stage {
            $($variant,)*
        }

        impl Stage {
            /// Every stage, switch stages first, each pipeline in table order.
            pub const ALL: &'static [Stage] = &[$(Stage::$variant,)*];

            pub fn pipeline(self) -> Pipeline {
                match self {
                    $(Stage::$variant => Pipeline::$pipeline,)*
                }
            }

            /// The OpenFlow-independent logical table number.
            pub fn table(self) -> u8 {
                match self {
                    $(Stage::$variant => $table,)*
                }
            }

            /// The stage name, as in `ovn-northd(8)` and `stage-name`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Stage::$variant => $name,)*
                }
            }
        }
    };
}

stages! {
    LsInCheckPortSec = (Ingress, 0, "ls_in_check_port_sec"),
    LsInApplyPortSec = (Ingress, 1, "ls_in_apply_port_sec"),
    LsInLookupFdb = (Ingress, 2, "ls_in_lookup_fdb"),
    LsInPutFdb = (Ingress, 3, "ls_in_put_fdb"),
    LsInPreAcl = (Ingress, 4, "ls_in_pre_acl"),
    LsInPreLb = (Ingress, 5, "ls_in_pre_lb"),
    LsInPreStateful = (Ingress, 6, "ls_in_pre_stateful"),
    LsInAclHint = (Ingress, 7, "ls_in_acl_hint"),
    LsInAcl = (Ingress, 8, "ls_in_acl"),
    LsInQosMark = (Ingress, 9, "ls_in_qos_mark"),
    LsInQosMeter = (Ingress, 10, "ls_in_qos_meter"),
    LsInLbAffCheck = (Ingress, 11, "ls_in_lb_aff_check"),
    LsInLb = (Ingress, 12, "ls_in_lb"),
    LsInLbAffLearn = (Ingress, 13, "ls_in_lb_aff_learn"),
    LsInPreHairpin = (Ingress, 14, "ls_in_pre_hairpin"),
    LsInNatHairpin = (Ingress, 15, "ls_in_nat_hairpin"),
    LsInHairpin = (Ingress, 16, "ls_in_hairpin"),
    LsInAclAfterLb = (Ingress, 17, "ls_in_acl_after_lb"),
    LsInStateful = (Ingress, 18, "ls_in_stateful"),
    LsInArpRsp = (Ingress, 19, "ls_in_arp_rsp"),
    LsInDhcpOptions = (Ingress, 20, "ls_in_dhcp_options"),
    LsInDhcpResponse = (Ingress, 21, "ls_in_dhcp_response"),
    LsInDnsLookup = (Ingress, 22, "ls_in_dns_lookup"),
    LsInDnsResponse = (Ingress, 23, "ls_in_dns_response"),
    LsInExternalPort = (Ingress, 24, "ls_in_external_port"),
    LsInL2Lkup = (Ingress, 25, "ls_in_l2_lkup"),
    LsInL2Unknown = (Ingress, 26, "ls_in_l2_unknown"),
    LsOutPreAcl = (Egress, 0, "ls_out_pre_acl"),
    LsOutPreLb = (Egress, 1, "ls_out_pre_lb"),
    LsOutPreStateful = (Egress, 2, "ls_out_pre_stateful"),
    LsOutAclHint = (Egress, 3, "ls_out_acl_hint"),
    LsOutAcl = (Egress, 4, "ls_out_acl"),
    LsOutQosMark = (Egress, 5, "ls_out_qos_mark"),
    LsOutQosMeter = (Egress, 6, "ls_out_qos_meter"),
    LsOutStateful = (Egress, 7, "ls_out_stateful"),
    LsOutCheckPortSec = (Egress, 8, "ls_out_check_port_sec"),
    LsOutApplyPortSec = (Egress, 9, "ls_out_apply_port_sec"),
    LrInAdmission = (Ingress, 0, "lr_in_admission"),
    LrInLookupNeighbor = (Ingress, 1, "lr_in_lookup_neighbor"),
    LrInLearnNeighbor = (Ingress, 2, "lr_in_learn_neighbor"),
    LrInIpInput = (Ingress, 3, "lr_in_ip_input"),
    LrInUnsnat = (Ingress, 4, "lr_in_unsnat"),
    LrInDefrag = (Ingress, 5, "lr_in_defrag"),
    LrInLbAffCheck = (Ingress, 6, "lr_in_lb_aff_check"),
    LrInDnat = (Ingress, 7, "lr_in_dnat"),
    LrInLbAffLearn = (Ingress, 8, "lr_in_lb_aff_learn"),
    LrInEcmpStateful = (Ingress, 9, "lr_in_ecmp_stateful"),
    LrInNdRaOptions = (Ingress, 10, "lr_in_nd_ra_options"),
    LrInNdRaResponse = (Ingress, 11, "lr_in_nd_ra_response"),
    LrInIpRoutingPre = (Ingress, 12, "lr_in_ip_routing_pre"),
    LrInIpRouting = (Ingress, 13, "lr_in_ip_routing"),
    LrInIpRoutingEcmp = (Ingress, 14, "lr_in_ip_routing_ecmp"),
    LrInPolicy = (Ingress, 15, "lr_in_policy"),
    LrInPolicyEcmp = (Ingress, 16, "lr_in_policy_ecmp"),
    LrInArpResolve = (Ingress, 17, "lr_in_arp_resolve"),
    LrInChkPktLen = (Ingress, 18, "lr_in_chk_pkt_len"),
    LrInLargerPkts = (Ingress, 19, "lr_in_larger_pkts"),
    LrInGwRedirect = (Ingress, 20, "lr_in_gw_redirect"),
    LrInArpRequest = (Ingress, 21, "lr_in_arp_request"),
    LrOutChkDnatLocal = (Egress, 0, "lr_out_chk_dnat_local"),
    LrOutUndnat = (Egress, 1, "lr_out_undnat"),
    LrOutPostUndnat = (Egress, 2, "lr_out_post_undnat"),
    LrOutSnat = (Egress, 3, "lr_out_snat"),
    LrOutPostSnat = (Egress, 4, "lr_out_post_snat"),
    LrOutEgrLoop = (Egress, 5, "lr_out_egr_loop"),
    LrOutDelivery = (Egress, 6, "lr_out_delivery"),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each (datapath kind, pipeline) numbers its stages 0, 1, 2, ... with
    /// no gap or repeat, as the SB expects.
    #[test]
    fn tables_are_dense() {
        for prefix in ["ls_in_", "ls_out_", "lr_in_", "lr_out_"] {
            let tables: Vec<u8> =
                Stage::ALL.iter().filter(|s| s.name().starts_with(prefix)).map(|s| s.table()).collect();
            assert_eq!(tables, (0..tables.len() as u8).collect::<Vec<_>>(), "{prefix}");
        }
    }
}
