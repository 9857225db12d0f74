//! Generates the message types of the `kafka` destination (`proto/slave_binlog.proto`) and of
//! the `file` destination (`proto/pb_binlog.proto`); needs `protoc` (Debian
//! `protobuf-compiler`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .compile_protos(
            &["proto/slave_binlog.proto", "proto/pb_binlog.proto"],
            &["proto"],
        )?;
    Ok(())
}
