//! The test bed's MariaDB: the test kit starts a real `mariadbd` and the `mariadb` client talks
//! to it over TCP on 127.0.0.1.

use binlog_testkit::mariadb::MariaDb;

#[test]
fn mariadb_answers_over_tcp() {
    let db = MariaDb::start();
    assert_eq!(db.query("SELECT 1"), "1\n");
    let version = db.query("SELECT VERSION()");
    assert!(version.contains("MariaDB"), "VERSION() = {version:?}");
    // root over TCP may create users, which later tests need.
    db.query("CREATE USER 'probe'@'127.0.0.1' IDENTIFIED BY 'probe'");
    assert_eq!(
        db.query("SELECT COUNT(*) FROM mysql.user WHERE user = 'probe'"),
        "1\n"
    );
}
