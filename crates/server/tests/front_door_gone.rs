//! The front door and a deleted deployment: an agent token whose deployment is being deleted
//! is `410` on both agent path forms (the agent stops on it; before, the unprefixed form said
//! "belongs to a deployment this cluster does not serve" and the prefixed one `404 page not
//! found`, which agents retry for ever); once purged, its token is gone and both forms are
//! the control plane's `401`, as is any agent route with an unknown token whether or not the
//! path's deployment exists. The gateway's router is driven in-process (no arrival: the
//! public path of a cluster that is not privateOnly). Needs no root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::IntoFuture;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use linkplane_model::ResourceId;
use linkplane_provider_local::gateway::GatewaySite;
use linkplane_server::front_door::{FrontDoor, cluster_router};
use linkplane_server::{ControllersConfig, Plane, PlaneConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn door_call(router: &axum::Router, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = Request::post(path).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = json!({"name":"a1","hostname":"h","version":"0.1.0","queues":["default"]});
    let resp = router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_deployment_is_gone_on_every_agent_path_form() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let plane = Plane::start(PlaneConfig {
        data_dir: dir.path().to_owned(),
        api: linkplane_api::Config::default(),
        prefix: linkplane_localcloud::Prefix::parse("tzzzz").unwrap(),
        controllers: ControllersConfig::default(),
        disable_localcloud: true,
        providers: Default::default(),
    })
    .await
    .unwrap();
    let admin = std::fs::read_to_string(&plane.bootstrap().admin_token_file)
        .unwrap()
        .trim()
        .to_owned();
    let org = plane.bootstrap().organization_id.to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://{}/v1/organizations/{org}",
        listener.local_addr().unwrap()
    );
    let server = tokio::spawn(axum::serve(listener, plane.router()).into_future());
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let req = http
            .post(format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json::<Value>().await.unwrap()
        }
    };
    let cluster = post(
        "/clusters".into(),
        json!({"name": "c", "cloudProvider": "AWS", "type": "DEDICATED",
               "region": "us-east-1", "vpcSubnetRange": "10.0.0.0/16"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut deps = vec![];
    for name in ["gone", "live"] {
        let dep = post(
            "/deployments".into(),
            json!({"name": name, "clusterId": cluster}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = post(
            format!("/deployments/{dep}/agent-tokens"),
            json!({"name": "agent"}),
        )
        .await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        deps.push((dep, token));
    }
    let [(dep, token), (live_dep, live_token)] = <[_; 2]>::try_from(deps).unwrap();
    let router = cluster_router(
        FrontDoor {
            store: plane.store(),
            api: plane.router(),
            providers: std::sync::Weak::new(),
        },
        GatewaySite {
            cluster_id: ResourceId::parse(&cluster).unwrap(),
            connector: linkplane_ingress::direct_connector(),
        },
    );
    let unprefixed = "/v1/agents/register".to_owned();
    let prefixed = format!("/{dep}/v1/agents/register");
    for path in [&unprefixed, &prefixed] {
        let (code, _) = door_call(&router, path, Some(&token)).await;
        assert_eq!(
            code,
            StatusCode::CREATED.as_u16(),
            "{path} before the delete"
        );
    }

    // DELETING: a finalizer (as a provider's would) holds the deployment.
    let dep_id = ResourceId::parse(&dep).unwrap();
    plane
        .store()
        .add_finalizer(&dep_id, "linkplane.dev/test-hold")
        .await
        .unwrap();
    let del = http
        .delete(format!("{base}/deployments/{dep}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status().as_u16(), 202);
    let gone =
        format!("410 gone: deployment {dep} of this agent token was deleted; stop this agent\n");
    for path in [&unprefixed, &prefixed] {
        assert_eq!(
            door_call(&router, path, Some(&token)).await,
            (410, gone.clone()),
            "{path} while deleting"
        );
    }

    // Purged: its token went with it; both forms are the control plane's 401.
    plane
        .store()
        .remove_finalizer(&dep_id, "linkplane.dev/test-hold")
        .await
        .unwrap();
    for path in [&unprefixed, &prefixed] {
        let (code, body) = door_call(&router, path, Some(&token)).await;
        assert_eq!(code, 401, "{path} after the purge: {body}");
        assert!(
            body.contains("application/problem+json") || body.contains("\"status\":401"),
            "{body}"
        );
    }

    // An unknown token (or none) under a made-up deployment id is the same 401 as under a
    // real one: the answer does not say whether the id exists.
    for segment in ["dp0000000000000000000000", live_dep.as_str()] {
        for t in [None, Some("lpag_madeup")] {
            let (code, body) =
                door_call(&router, &format!("/{segment}/v1/agents/register"), t).await;
            assert_eq!(code, 401, "/{segment} with {t:?}: {body}");
        }
    }
    // A live token under another deployment's (here: a deleted) id stays 404 page not found,
    // and so does anything that is not an agent route.
    assert_eq!(
        door_call(&router, &prefixed, Some(&live_token)).await,
        (404, "404 page not found".into())
    );
    assert_eq!(
        door_call(&router, &format!("/{dep}/x"), Some(&live_token)).await,
        (404, "404 page not found".into())
    );
    // The live deployment still registers on both forms.
    for path in [
        unprefixed.clone(),
        format!("/{live_dep}/v1/agents/register"),
    ] {
        assert_eq!(
            door_call(&router, &path, Some(&live_token)).await.0,
            201,
            "{path}"
        );
    }

    server.abort();
    plane.shutdown().await;
}
