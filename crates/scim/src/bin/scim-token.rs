//! `scim-token`: mint a development bearer token (HS256) for the local secret,
//! so `make token` and `make up` print a token the local service accepts.
//!
//! Usage: scim-token --secret-file .dev-secret [--ttl SECS] [--scope "scim.read scim.write"]
//!        [--tenant-claim zid --tenant t1] [--issuer ISS] [--audience AUD] [--client-id ID]

use scim::auth::{mint_hs256, DevClaims};

fn main() {
    if let Err(e) = run() {
        eprintln!("scim-token: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut secret_file = None;
    let mut claims = DevClaims {
        scopes: vec!["scim.read".into(), "scim.write".into()],
        client_id: Some("local-dev".into()),
        subject: Some("local-dev".into()),
        ttl_secs: 3600,
        ..Default::default()
    };
    let mut tenant_claim = None;
    let mut tenant = None;
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--secret-file" => secret_file = Some(val()?),
            "--ttl" => claims.ttl_secs = val()?.parse().map_err(|_| "--ttl: seconds")?,
            "--scope" => claims.scopes = val()?.split_whitespace().map(str::to_string).collect(),
            "--issuer" => claims.issuer = Some(val()?),
            "--audience" => claims.audiences = vec![val()?],
            "--client-id" => claims.client_id = Some(val()?),
            "--tenant-claim" => tenant_claim = Some(val()?),
            "--tenant" => tenant = Some(val()?),
            "-h" | "--help" => {
                println!("usage: scim-token --secret-file FILE [--ttl SECS] [--scope S] [--issuer I] [--audience A] [--client-id C] [--tenant-claim NAME --tenant VALUE]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let (Some(c), Some(t)) = (tenant_claim, tenant) {
        claims.tenant = Some((c, t));
    }
    let path = secret_file.ok_or("--secret-file is required")?;
    let secret = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let token = mint_hs256(secret.trim(), &claims)?;
    println!("{token}");
    Ok(())
}
