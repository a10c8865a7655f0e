//! Custom key store operations: CreateCustomKeyStore, DescribeCustomKeyStores,
//! UpdateCustomKeyStore, ConnectCustomKeyStore, DisconnectCustomKeyStore,
//! DeleteCustomKeyStore.
//!
//! This server has no CloudHSM cluster and reaches no external key store proxy, so every
//! account is an account without custom key stores, and each operation answers as AWS does
//! for such an account: the request is validated against the model, authorized with its IAM
//! action (resource `*`; these actions are granted by IAM policies only), and then
//! - CreateCustomKeyStore of type `AWS_CLOUDHSM` → `CloudHsmClusterNotFoundException` (no
//!   cluster has the id); of type `EXTERNAL_KEY_STORE` → `XksProxyUriUnreachableException`
//!   for a public endpoint (the proxy path cannot be reached) and
//!   `XksProxyVpcEndpointServiceNotFoundException` for a VPC endpoint service;
//! - DescribeCustomKeyStores → an empty list, or `CustomKeyStoreNotFoundException` for a
//!   named id or name;
//! - Update, Connect, Disconnect, Delete → `CustomKeyStoreNotFoundException`.

use serde_json::Value;

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{base_context, Req};
use crate::kms::decode::input::Input;
use crate::kms::model::op::KmsOp;
use crate::kms::ops::paging::{invalid_marker, limit_marker, page};
use crate::kms::Kms;

fn not_found() -> ApiError {
    ApiError::new(KmsError::CustomKeyStoreNotFoundException,
        "The request was rejected because KMS cannot find a custom key store with the specified key store name or ID.",
    )
}

fn pattern(i: &mut Input<'_>, name: &str, v: Option<&str>, ok: fn(&str) -> bool, re: &str) {
    if let Some(s) = v {
        let good = ok(s);
        i.pattern_check(name, Some(s), good, re);
    }
}

fn cluster_id_ok(s: &str) -> bool {
    s.strip_prefix("cluster-").is_some_and(|r| {
        (11..=16).contains(&r.len())
            && r.bytes()
                .all(|c| c.is_ascii_alphabetic() || (b'2'..=b'7').contains(&c))
    })
}

fn uri_endpoint_ok(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
    })
}

fn uri_path_ok(s: &str) -> bool {
    let version_ok = |v: &str| (1..=2).contains(&v.len()) && v.bytes().all(|c| c.is_ascii_digit());
    let Some(idx) = s.rfind("/kms/xks/v") else {
        return false;
    };
    let (prefix, rest) = s.split_at(idx);
    let Some(version) = rest.strip_prefix("/kms/xks/v") else {
        return false;
    };
    version_ok(version)
        && (prefix.is_empty()
            || (prefix.starts_with('/')
                && prefix.len() > 1
                && prefix
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'-'))))
}

fn vpce_name_ok(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("com.amazonaws.vpce.")
        .or_else(|| s.strip_prefix("eu.amazonaws.vpce."))
    else {
        return false;
    };
    let Some((region, svc)) = rest.split_once(".vpce-svc-") else {
        return false;
    };
    let parts: Vec<&str> = region.split('-').collect();
    let region_ok = (3..=4).contains(&parts.len())
        && parts.split_last().is_some_and(|(last, head)| {
            !last.is_empty()
                && last.bytes().all(|c| c.is_ascii_digit())
                && head
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_lowercase()))
        });
    region_ok
        && !svc.is_empty()
        && svc
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

/// The XKS members of Create/UpdateCustomKeyStore, validated against the model.
struct Xks<'a> {
    endpoint: Option<&'a str>,
    vpce: Option<&'a str>,
    connectivity: Option<&'a str>,
    credential: bool,
}

fn xks_members<'a>(i: &mut Input<'a>) -> Result<Xks<'a>, ApiError> {
    let endpoint = i.str_opt("XksProxyUriEndpoint", 10, 128)?;
    pattern(
        i,
        "XksProxyUriEndpoint",
        endpoint,
        uri_endpoint_ok,
        "^https://[a-zA-Z0-9.-]+$",
    );
    let path = i.str_opt("XksProxyUriPath", 10, 128)?;
    pattern(
        i,
        "XksProxyUriPath",
        path,
        uri_path_ok,
        "^(/[a-zA-Z0-9\\/_-]+/kms/xks/v\\d{1,2})$|^(/kms/xks/v\\d{1,2})$",
    );
    let vpce = i.str_opt("XksProxyVpcEndpointServiceName", 20, 64)?;
    pattern(
        i,
        "XksProxyVpcEndpointServiceName",
        vpce,
        vpce_name_ok,
        "^(com|eu)\\.amazonaws\\.vpce\\.([a-z]+-){2,3}\\d+\\.vpce-svc-[0-9a-z]+$",
    );
    let owner = i.str_opt("XksProxyVpcEndpointServiceOwner", 12, 12)?;
    pattern(
        i,
        "XksProxyVpcEndpointServiceOwner",
        owner,
        |s| s.bytes().all(|c| c.is_ascii_digit()),
        "[0-9]{12}",
    );
    let connectivity = i.enum_opt(
        "XksProxyConnectivity",
        &["PUBLIC_ENDPOINT", "VPC_ENDPOINT_SERVICE"],
    )?;
    let credential = match i.value("XksProxyAuthenticationCredential") {
        None => false,
        Some(Value::Object(c)) => {
            for (field, min, max) in [("AccessKeyId", 20, 30), ("RawSecretAccessKey", 43, 64)] {
                let path = format!(
                    "xksProxyAuthenticationCredential.{}",
                    crate::kms::decode::input::lower_camel(field)
                );
                match c.get(field) {
                    None | Some(Value::Null) => i.violate(None, &path, "Member must not be null"),
                    Some(Value::String(s)) => {
                        let n = s.chars().count();
                        if n < min {
                            i.violate(
                                None,
                                &path,
                                &format!("Member must have length greater than or equal to {min}"),
                            );
                        } else if n > max {
                            i.violate(
                                None,
                                &path,
                                &format!("Member must have length less than or equal to {max}"),
                            );
                        }
                    }
                    Some(_) => {
                        return Err(ApiError::new(
                            KmsError::SerializationException,
                            format!("Unexpected value type in field {field}"),
                        ))
                    }
                }
            }
            true
        }
        Some(_) => {
            return Err(ApiError::new(
                KmsError::SerializationException,
                "Unexpected value type in field XksProxyAuthenticationCredential",
            ))
        }
    };
    Ok(Xks {
        endpoint,
        vpce,
        connectivity,
        credential,
    })
}

fn xks_unreachable() -> ApiError {
    ApiError::new(KmsError::XksProxyUriUnreachableException,
        "KMS was unable to reach the specified XksProxyUriPath. The path must be reachable before you create the external key store or update its settings.",
    )
}

fn vpce_not_found(name: &str) -> ApiError {
    ApiError::new(
        KmsError::XksProxyVpcEndpointServiceNotFoundException,
        format!("KMS cannot find the VPC endpoint service {name}."),
    )
}

impl Kms {
    fn authorize_store_action(&self, req: &mut Req<'_>, action: &str) -> Result<(), ApiError> {
        let ctx = base_context(req);
        self.authorize_identity(req, action, "*", &ctx)
    }

    pub(crate) fn create_custom_key_store(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let _name = i.str_req("CustomKeyStoreName", 1, 256)?;
        let cluster = i.str_opt("CloudHsmClusterId", 19, 24)?;
        pattern(
            &mut i,
            "CloudHsmClusterId",
            cluster,
            cluster_id_ok,
            "cluster-[2-7a-zA-Z]{11,16}",
        );
        let anchor = i.str_opt("TrustAnchorCertificate", 1, 5000)?;
        let password = i.str_opt("KeyStorePassword", 7, 32)?;
        let kind = i
            .enum_opt(
                "CustomKeyStoreType",
                &["AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
            )?
            .unwrap_or("AWS_CLOUDHSM");
        let xks = xks_members(&mut i)?;
        i.finish()?;
        self.authorize_store_action(req, KmsOp::CreateCustomKeyStore.spec().action())?;
        if kind == "AWS_CLOUDHSM" {
            let Some(cluster) = cluster else {
                return Err(ApiError::validation(
                    "A CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for a custom key store of type AWS_CLOUDHSM.",
                ));
            };
            if anchor.is_none() || password.is_none() {
                return Err(ApiError::validation(
                    "A CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for a custom key store of type AWS_CLOUDHSM.",
                ));
            }
            return Err(ApiError::new(KmsError::CloudHsmClusterNotFoundException,
                format!("KMS cannot find the CloudHSM cluster with the specified cluster ID {cluster}. Retry the request with a different cluster ID."),
            ));
        }
        let connectivity = xks.connectivity.unwrap_or("PUBLIC_ENDPOINT");
        if xks.endpoint.is_none() || !xks.credential {
            return Err(ApiError::validation(
                "An XksProxyUriEndpoint, XksProxyUriPath and XksProxyAuthenticationCredential are required for a custom key store of type EXTERNAL_KEY_STORE.",
            ));
        }
        if connectivity == "VPC_ENDPOINT_SERVICE" {
            let Some(name) = xks.vpce else {
                return Err(ApiError::validation(
                    "An XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.",
                ));
            };
            return Err(vpce_not_found(name));
        }
        Err(xks_unreachable())
    }

    pub(crate) fn describe_custom_key_stores(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let id = i.str_opt("CustomKeyStoreId", 1, 64)?;
        let name = i.str_opt("CustomKeyStoreName", 1, 256)?;
        let (_limit, marker) = limit_marker(&mut i, 100, 1000)?;
        i.finish()?;
        self.authorize_store_action(req, KmsOp::DescribeCustomKeyStores.spec().action())?;
        if id.is_some() || name.is_some() {
            return Err(not_found());
        }
        if marker.is_some() {
            return Err(invalid_marker());
        }
        Ok(page("CustomKeyStores", Vec::new(), None))
    }

    pub(crate) fn update_custom_key_store(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        i.str_req("CustomKeyStoreId", 1, 64)?;
        i.str_opt("NewCustomKeyStoreName", 1, 256)?;
        i.str_opt("KeyStorePassword", 7, 32)?;
        let cluster = i.str_opt("CloudHsmClusterId", 19, 24)?;
        pattern(
            &mut i,
            "CloudHsmClusterId",
            cluster,
            cluster_id_ok,
            "cluster-[2-7a-zA-Z]{11,16}",
        );
        xks_members(&mut i)?;
        i.finish()?;
        self.authorize_store_action(req, KmsOp::UpdateCustomKeyStore.spec().action())?;
        Err(not_found())
    }

    /// Connect, Disconnect and Delete: only a key store id.
    pub(crate) fn custom_key_store_by_id(
        &self,
        req: &mut Req<'_>,
        op: KmsOp,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        i.str_req("CustomKeyStoreId", 1, 64)?;
        i.finish()?;
        self.authorize_store_action(req, op.spec().action())?;
        Err(not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_the_model() {
        assert!(cluster_id_ok(
            "cluster-1a23b4cdefg"[..].replace('1', "2").as_str()
        ));
        assert!(!cluster_id_ok("cluster-1a23b4cdefg"));
        assert!(!cluster_id_ok("cluster-abc"));
        assert!(uri_endpoint_ok("https://xks.example.com"));
        assert!(!uri_endpoint_ok("http://xks.example.com"));
        assert!(!uri_endpoint_ok("https://xks.example.com/path"));
        assert!(uri_path_ok("/kms/xks/v1"));
        assert!(uri_path_ok("/prefix/a_b-c/kms/xks/v12"));
        assert!(!uri_path_ok("/kms/xks/v123"));
        assert!(!uri_path_ok("kms/xks/v1"));
        assert!(!uri_path_ok("/a b/kms/xks/v1"));
        assert!(vpce_name_ok(
            "com.amazonaws.vpce.us-east-1.vpce-svc-example1"
        ));
        assert!(vpce_name_ok(
            "com.amazonaws.vpce.us-gov-west-1.vpce-svc-0abc"
        ));
        assert!(!vpce_name_ok("com.amazonaws.vpce.useast1.vpce-svc-0abc"));
        assert!(!vpce_name_ok("org.amazonaws.vpce.us-east-1.vpce-svc-0abc"));
    }
}
