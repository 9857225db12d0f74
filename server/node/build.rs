//! Generates the gRPC and protobuf code of `proto/` (needs `protoc`; Debian `protobuf-compiler`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_prost_build::configure().compile_protos(
        &[
            "proto/binlog.proto",
            "proto/pump.proto",
            "proto/cistern.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
