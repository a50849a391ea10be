-- Resources built outside this crate inside a VPC (PrivateLink endpoints, endpoint services,
-- DNS resolvers …) that must block the VPC's deletion.
CREATE TABLE vpc_dependents (
    id TEXT PRIMARY KEY,
    vpc_id TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX vpc_dependents_vpc ON vpc_dependents(vpc_id);
