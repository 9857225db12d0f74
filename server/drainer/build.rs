//! Generates the `kafka` destination's message types from `proto/slave_binlog.proto` (needs
//! `protoc`; Debian `protobuf-compiler`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .compile_protos(&["proto/slave_binlog.proto"], &["proto"])?;
    Ok(())
}
