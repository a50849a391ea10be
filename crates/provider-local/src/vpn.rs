//! [`VpnConnections`] on localcloud (document 002, self-service): as the platform's account,
//! a virtual private gateway attached to the cluster's VPC, one customer gateway per gateway
//! IP of the request (its device name is the control plane's connection id, so a restart
//! finds it again instead of creating a second one), one VPN connection per customer gateway
//! with two tunnels (each its own charon), the request's pre-shared key on both tunnels, the
//! static prefixes as the connection's static routes and as routes through the gateway in
//! every route table of the cluster. `AVAILABLE` once a tunnel is `UP`.

use linkplane_localcloud::Error as CloudError;
use linkplane_localcloud::types::{
    AttachVpnGateway, CreateCustomerGateway, CreateVpnConnection, CreateVpnConnectionRoute,
    CreateVpnGateway, CustomerGateway, TunnelOptionsRequest, VpnConnection,
    VpnConnectionOptionsRequest,
};
use linkplane_model::{ResourceId, VpnConnectionId};
use linkplane_provider::*;

use crate::{LocalProvider, map_err, parsed};

/// The customer gateway's device name for gateway IP `n` of a control-plane connection.
fn device_name(connection_id: &ResourceId, n: usize) -> String {
    format!("{connection_id}/{n}")
}

fn is_ours(c: &CustomerGateway, connection_id: &ResourceId) -> bool {
    c.device_name
        .as_deref()
        .and_then(|d| d.rsplit_once('/'))
        .is_some_and(|(id, _)| id == connection_id.to_string())
}

impl LocalProvider {
    /// The platform's VPN gateway attached to the cluster's VPC (created and attached when
    /// there is none).
    pub(crate) async fn cluster_vgw(&self, net: &ClusterNetwork) -> Result<String, ProviderError> {
        let p = &self.principal;
        let gws = self.engine.list_vpn_gateways(p).await.map_err(map_err)?;
        if let Some(g) = gws.iter().find(|g| {
            g.vpc_attachments
                .iter()
                .any(|a| a.vpc_id == net.vpc_id.as_str())
        }) {
            return Ok(g.vpn_gateway_id.clone());
        }
        // A gateway left unattached by a crash between create and attach is reused.
        let g = match gws.into_iter().find(|g| g.vpc_attachments.is_empty()) {
            Some(g) => g,
            None => self
                .engine
                .create_vpn_gateway(p, CreateVpnGateway::default())
                .await
                .map_err(map_err)?,
        };
        self.engine
            .attach_vpn_gateway(
                p,
                &g.vpn_gateway_id,
                AttachVpnGateway {
                    vpc_id: net.vpc_id.as_str().to_owned(),
                },
            )
            .await
            .map_err(map_err)?;
        tracing::info!(vgw = %g.vpn_gateway_id, vpc = %net.vpc_id, "attached a VPN gateway to the cluster");
        Ok(g.vpn_gateway_id)
    }

    async fn connections_of(
        &self,
        connection_id: &ResourceId,
    ) -> Result<Vec<(CustomerGateway, Option<VpnConnection>)>, ProviderError> {
        let p = &self.principal;
        let cgws: Vec<CustomerGateway> = self
            .engine
            .list_customer_gateways(p)
            .await
            .map_err(map_err)?
            .into_iter()
            .filter(|c| is_ours(c, connection_id))
            .collect();
        let vpns = self.engine.list_vpn_connections(p).await.map_err(map_err)?;
        Ok(cgws
            .into_iter()
            .map(|c| {
                let v = vpns
                    .iter()
                    .find(|v| v.customer_gateway_id == c.customer_gateway_id)
                    .cloned();
                (c, v)
            })
            .collect())
    }
}

/// What the customer's network engineer configures on their side, in words (the pre-shared
/// key is theirs already and never repeated here).
fn instructions(v: &VpnConnection, cgw: &CustomerGateway) -> Vec<String> {
    let mut out = vec![format!(
        "configure customer gateway {} for VPN connection {}: IKEv2, pre-shared key as given, UDP encapsulation (NAT-T, port 4500), two tunnels",
        cgw.ip_address, v.vpn_connection_id
    )];
    for (n, t) in v.options.tunnel_options.iter().enumerate() {
        out.push(format!(
            "tunnel {}: peer {}, inside CIDR {}, phase 1 {} / {} / DH {:?}, phase 2 {} / {} / DH {:?}",
            n + 1,
            t.outside_ip_address,
            t.tunnel_inside_cidr,
            t.phase1_encryption_algorithms.join(","),
            t.phase1_integrity_algorithms.join(","),
            t.phase1_dh_group_numbers,
            t.phase2_encryption_algorithms.join(","),
            t.phase2_integrity_algorithms.join(","),
            t.phase2_dh_group_numbers,
        ));
    }
    out
}

#[async_trait::async_trait]
impl VpnConnections for LocalProvider {
    async fn ensure_vpn(
        &self,
        net: &ClusterNetwork,
        req: &VpnRequest,
    ) -> Result<VpnObservation, ProviderError> {
        let prefixes = match &req.routing {
            VpnRouting::Static { prefixes } => prefixes.clone(),
            VpnRouting::Bgp { .. } => {
                return Err(ProviderError::Refused(
                    "the local provider does not implement BGP routing for VPN connections yet: create the connection with staticPrefixes".into(),
                ));
            }
        };
        let p = &self.principal;
        let vgw = self.cluster_vgw(net).await?;
        let mut existing = self.connections_of(&req.connection_id).await?;
        for (n, ip) in req.gateway_ips.iter().enumerate() {
            if existing
                .iter()
                .any(|(c, _)| c.device_name.as_deref() == Some(&device_name(&req.connection_id, n)))
            {
                continue;
            }
            let asn = 65000;
            self.engine
                .create_customer_gateway(
                    p,
                    CreateCustomerGateway {
                        ip_address: ip.ip().to_string(),
                        bgp_asn: Some(asn),
                        device_name: Some(device_name(&req.connection_id, n)),
                        region: None,
                    },
                )
                .await
                .map_err(map_err)?;
        }
        if existing.len() != req.gateway_ips.len() {
            existing = self.connections_of(&req.connection_id).await?;
        }
        let mut vpns = Vec::new();
        for (cgw, vpn) in existing {
            let v = match vpn {
                Some(v) => v,
                None => {
                    let psk = req.pre_shared_key.expose_secret().to_owned();
                    let tunnel = |inside: Option<String>| TunnelOptionsRequest {
                        pre_shared_key: Some(psk.clone()),
                        tunnel_inside_cidr: inside,
                        ..Default::default()
                    };
                    let v = self
                        .engine
                        .create_vpn_connection(
                            p,
                            CreateVpnConnection {
                                customer_gateway_id: cgw.customer_gateway_id.clone(),
                                vpn_gateway_id: vgw.clone(),
                                kind: Some("ipsec.1".into()),
                                options: VpnConnectionOptionsRequest {
                                    static_routes_only: true,
                                    tunnel_options: vec![
                                        tunnel(req.inside_cidr.map(|c| c.to_string())),
                                        tunnel(None),
                                    ],
                                },
                            },
                        )
                        .await
                        .map_err(map_err)?;
                    tracing::info!(vpn = %v.vpn_connection_id, cgw = %cgw.ip_address, "VPN connection created for the cluster");
                    v
                }
            };
            let have: Vec<&str> = v
                .routes
                .iter()
                .map(|r| r.destination_cidr_block.as_str())
                .collect();
            let mut v2 = None;
            for prefix in &prefixes {
                if !have.contains(&prefix.to_string().as_str()) {
                    v2 = Some(
                        self.engine
                            .create_vpn_connection_route(
                                p,
                                &v.vpn_connection_id,
                                CreateVpnConnectionRoute {
                                    destination_cidr_block: prefix.to_string(),
                                },
                            )
                            .await
                            .map_err(map_err)?,
                    );
                }
            }
            vpns.push((cgw, v2.unwrap_or(v)));
        }
        let via = RouteTarget::Vpn(parsed(
            "VPN connection id",
            VpnConnectionId::parse(
                vpns.first()
                    .map(|(_, v)| v.vpn_connection_id.as_str())
                    .unwrap_or("vpn-00000000"),
            ),
        )?);
        for prefix in &prefixes {
            ClusterNetworks::ensure_route(self, net, prefix, &via).await?;
        }
        let mut tunnels = Vec::new();
        let mut instr = Vec::new();
        for (cgw, v) in &vpns {
            instr.extend(instructions(v, cgw));
            for t in &v.vgw_telemetry {
                tunnels.push(TunnelObservation {
                    outside_ip: t
                        .outside_ip_address
                        .parse()
                        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                    state: if t.status == "UP" {
                        TunnelState::Up
                    } else {
                        TunnelState::Down(t.status_message.clone())
                    },
                });
            }
        }
        let state = if tunnels.iter().any(|t| t.state == TunnelState::Up) {
            VpnState::Available
        } else {
            VpnState::Pending
        };
        let RouteTarget::Vpn(id) = via else {
            unreachable!("built as a VPN target above")
        };
        Ok(VpnObservation {
            id,
            state,
            tunnels,
            instructions: instr,
        })
    }

    async fn delete_vpn(
        &self,
        net: &ClusterNetwork,
        connection_id: &ResourceId,
    ) -> Result<(), ProviderError> {
        let p = &self.principal;
        for (cgw, vpn) in self.connections_of(connection_id).await? {
            if let Some(v) = vpn {
                for r in &v.routes {
                    if let Ok(c) = linkplane_model::Cidr::parse(&r.destination_cidr_block) {
                        let via = RouteTarget::Vpn(parsed(
                            "VPN connection id",
                            VpnConnectionId::parse(&v.vpn_connection_id),
                        )?);
                        ClusterNetworks::remove_route(self, net, &c, Some(&via)).await?;
                    }
                }
                match self
                    .engine
                    .delete_vpn_connection(p, &v.vpn_connection_id)
                    .await
                {
                    Ok(_) | Err(CloudError::NotFound { .. }) => {}
                    Err(e) => return Err(map_err(e)),
                }
            }
            match self
                .engine
                .delete_customer_gateway(p, &cgw.customer_gateway_id)
                .await
            {
                Ok(()) | Err(CloudError::NotFound { .. }) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        Ok(())
    }
}
