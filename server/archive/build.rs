//! Generates the `file` destination's payload types from `proto/pb_binlog.proto` (needs
//! `protoc`; Debian `protobuf-compiler`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .compile_protos(&["proto/pb_binlog.proto"], &["proto"])?;
    Ok(())
}
