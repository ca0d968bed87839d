//! placeholder
#[tokio::test]
#[ignore = "run by the multi-process tests"]
async fn child_instance() {
    crate::support::instances::run_child().await;
}
