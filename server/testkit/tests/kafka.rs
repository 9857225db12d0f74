//! The test bed's Kafka: the test kit starts a real one-node KRaft broker, and Kafka's own tools
//! create and list a topic and send one message through it over 127.0.0.1.

use binlog_testkit::kafka::Kafka;

#[test]
fn kafka_creates_a_topic_and_carries_a_message() {
    let kafka = Kafka::start();
    let bootstrap = kafka.bootstrap();
    let topic = "testbed-smoke";

    let mut create = kafka.tool("org.apache.kafka.tools.TopicCommand");
    create.args([
        "--bootstrap-server",
        &bootstrap,
        "--create",
        "--topic",
        topic,
    ]);
    create.args(["--partitions", "1", "--replication-factor", "1"]);
    let created = String::from_utf8(kafka.run(create, "").stdout).unwrap();
    assert!(
        created.contains(&format!("Created topic {topic}")),
        "{created}"
    );

    let mut list = kafka.tool("org.apache.kafka.tools.TopicCommand");
    list.args(["--bootstrap-server", &bootstrap, "--list"]);
    let listed = String::from_utf8(kafka.run(list, "").stdout).unwrap();
    assert_eq!(listed.lines().collect::<Vec<_>>(), [topic], "{listed}");

    let mut produce = kafka.tool("org.apache.kafka.tools.ConsoleProducer");
    produce.args(["--bootstrap-server", &bootstrap, "--topic", topic]);
    kafka.run(produce, "hello from the test bed\n");

    let mut consume = kafka.tool("org.apache.kafka.tools.consumer.ConsoleConsumer");
    consume.args(["--bootstrap-server", &bootstrap, "--topic", topic]);
    consume.args([
        "--from-beginning",
        "--max-messages",
        "1",
        "--timeout-ms",
        "30000",
    ]);
    let consumed = String::from_utf8(kafka.run(consume, "").stdout).unwrap();
    assert_eq!(consumed, "hello from the test bed\n");
}
