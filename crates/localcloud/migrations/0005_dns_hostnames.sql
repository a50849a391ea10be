-- Instance DNS host names and the peering DNS-resolution option (EC2's
-- ModifyVpcAttribute enableDnsHostnames and ModifyVpcPeeringConnectionOptions
-- allowDnsResolutionFromRemoteVpc). All default off, as for AWS non-default VPCs.
ALTER TABLE vpcs ADD COLUMN enable_dns_hostnames INTEGER NOT NULL DEFAULT 0;
-- Per side of a peering: whether the OTHER VPC resolves this side's public DNS host names
-- to private IP addresses.
ALTER TABLE peerings ADD COLUMN requester_dns_resolution INTEGER NOT NULL DEFAULT 0;
ALTER TABLE peerings ADD COLUMN accepter_dns_resolution INTEGER NOT NULL DEFAULT 0;
