-- Resolver rules shared with other accounts (AWS RAM): a recipient account may associate the
-- rule with its own VPCs; unsharing removes those associations.
CREATE TABLE rule_shares (
    rule_id TEXT NOT NULL REFERENCES resolver_rules(id),
    account TEXT NOT NULL,
    PRIMARY KEY (rule_id, account)
);
CREATE INDEX rule_shares_account ON rule_shares(account);
