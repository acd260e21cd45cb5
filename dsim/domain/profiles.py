"""Environment profiles: named parameter sets for common machines (``profile:`` on a host group).

Each profile gives a host group's hardware as the provider documents it; fields written in the scenario
win over the profile's, one by one. Every value's source is given with it (and in docs/containers.md:
Environment profiles). Network figures are the instance's documented peak ("up to"); disk write rates are
the default volume's documented throughput.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsim.domain.hosts import SHA256_SHA_NI

GIB = 2**30
MIB = 2**20
GB = 1e9


@dataclass(frozen=True, slots=True)
class EnvironmentProfile:
    """A machine: logical CPUs, memory, disk, NIC (bytes/s) and file write rate (bytes/s); None: dsim's default.
    ``threads_per_core``: 2 where the provider documents its vCPUs as hyper-threads of the machine's cores."""

    cpus: float
    memory: float
    disk: float | None
    nic: float | None
    write_rate: float | None
    sources: tuple[str, ...]
    threads_per_core: int = 1
    #: sha256 per core (storage.hash_rate) where the machine's CPU has the SHA extensions (Docker 25 and later use
    #: them); None: dsim's default, Go's AVX2 path
    hash_rate: float | None = None


#: M5 and C5 run Xeon Platinum 8000 series (Skylake-SP 8175M / 8124M, Cascade Lake 8259CL / 8275CL): no SHA
#: extensions, so Go's sha256 takes its AVX2 path, dsim's default hash_rate (measured on the 8124M)
_EC2_M5 = "https://aws.amazon.com/ec2/instance-types/m5/"
_EC2_C5 = "https://aws.amazon.com/ec2/instance-types/c5/"
#: gp3's baseline throughput (every gp3 volume): 125 MiB/s, 3,000 IOPS
_GP3 = "https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html#gp3-performance"
_GCE_N2 = "https://cloud.google.com/compute/docs/general-purpose-machines#n2_machine_types"
_GCE_NET = "https://cloud.google.com/compute/docs/network-bandwidth"
#: pd-balanced: baseline 140 MiB/s and 3,000 IOPS per VM
_PD_BALANCED = "https://cloud.google.com/compute/docs/disks/performance"
_AZURE_DSV5 = "https://learn.microsoft.com/en-us/azure/virtual-machines/dv5-dsv5-series"
#: EC2's CPU options: 2 threads per core unless set to 1 ("each vCPU is a thread of a CPU core"; Intel Xeon M5/C5)
_EC2_THREADS = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CpuOptionsRequest.html"
#: Compute Engine: "each virtual CPU (vCPU) is implemented as a single hardware multithread, and two vCPUs share
#: each physical CPU core by default" (n2-standard-8: 4 cores)
_GCE_THREADS = "https://cloud.google.com/compute/docs/instances/set-threads-per-core"
_GITHUB = ("https://docs.github.com/en/actions/using-github-hosted-runners/using-github-hosted-runners/"
           "about-github-hosted-runners#standard-github-hosted-runners-for-public-repositories")

PROFILES: dict[str, EnvironmentProfile] = {
    # m5.large: 2 vCPU (1 core x 2 threads: EC2's default CPU options), 8 GiB, up to 10 Gbps; gp3 root volume at
    # its 125 MiB/s baseline
    "aws-m5.large": EnvironmentProfile(2, 8 * GIB, 100 * GIB, 10e9 / 8, 125 * MIB, (_EC2_M5, _GP3, _EC2_THREADS), 2),
    # m5.xlarge: 4 vCPU (2 cores x 2 threads), 16 GiB, up to 10 Gbps
    "aws-m5.xlarge": EnvironmentProfile(4, 16 * GIB, 100 * GIB, 10e9 / 8, 125 * MIB, (_EC2_M5, _GP3, _EC2_THREADS),
                                        2),
    # c5.xlarge: 4 vCPU (2 cores x 2 threads), 8 GiB, up to 10 Gbps
    "aws-c5.xlarge": EnvironmentProfile(4, 8 * GIB, 100 * GIB, 10e9 / 8, 125 * MIB, (_EC2_C5, _GP3, _EC2_THREADS), 2),
    # n2-standard-2: 2 vCPU (1 core x 2 threads, Compute Engine's default), 8 GB; egress up to 10 Gbps;
    # pd-balanced at 140 MiB/s
    "gcp-n2-standard-2": EnvironmentProfile(2, 8 * GB, 100 * GIB, 10e9 / 8, 140 * MIB,
                                            (_GCE_N2, _GCE_NET, _PD_BALANCED, _GCE_THREADS), 2),
    # n2-standard-8: 8 vCPU (4 cores x 2 threads), 32 GB; egress up to 16 Gbps (2 Gbps per vCPU)
    "gcp-n2-standard-8": EnvironmentProfile(8, 32 * GB, 100 * GIB, 16e9 / 8, 140 * MIB,
                                            (_GCE_N2, _GCE_NET, _PD_BALANCED, _GCE_THREADS), 2),
    # Standard_D2s_v5: 2 vCPU, 8 GiB, up to 12,500 Mbps; Ice Lake or Sapphire Rapids Xeons "in a hyper threaded
    # configuration" (the Dv5 page): 1 core x 2 threads, with the SHA extensions (Go's sha256 at SHA256_SHA_NI)
    "azure-d2s-v5": EnvironmentProfile(2, 8 * GIB, None, 12.5e9 / 8, None, (_AZURE_DSV5,), 2, SHA256_SHA_NI),
    # Standard_D4s_v5: 4 vCPU (2 cores x 2 threads), 16 GiB, up to 12,500 Mbps
    "azure-d4s-v5": EnvironmentProfile(4, 16 * GIB, None, 12.5e9 / 8, None, (_AZURE_DSV5,), 2, SHA256_SHA_NI),
    # GitHub-hosted ubuntu-latest for public repositories: 4 vCPU, 16 GB RAM, 14 GB SSD. GitHub's page does not
    # say whether the vCPUs are hyper-threads: 1 thread per core, dsim's default, until it does
    "github-ubuntu-latest": EnvironmentProfile(4, 16 * GB, 14 * GB, None, None, (_GITHUB,)),
    # the same label for private repositories: 2 vCPU, 7 GB RAM, 14 GB SSD (threads per core: as above)
    "github-ubuntu-latest-private": EnvironmentProfile(2, 7 * GB, 14 * GB, None, None, (_GITHUB,)),
    # a developer laptop: 8 whole cores (a generic machine: no vendor topology to cite), 16 GiB,
    # a 512 GB NVMe SSD writing up to 2.6 GB/s sequentially (Samsung 980 500 GB datasheet), gigabit Ethernet
    "laptop-nvme": EnvironmentProfile(
        8, 16 * GIB, 512 * GB, 1e9 / 8, 2.6e9,
        ("https://semiconductor.samsung.com/consumer-storage/internal-ssd/980/",)),
}


def profile_fields(name: str) -> dict[str, object]:
    """The profile as host-group fields of the scenario format (numbers in bytes and bytes per second)."""
    found = PROFILES[name]
    fields: dict[str, object] = {"cpus": found.cpus, "memory": found.memory}
    if found.threads_per_core != 1:
        fields["threads_per_core"] = found.threads_per_core
    if found.disk is not None:
        fields["disk"] = found.disk
    if found.nic is not None:
        fields["nic"] = found.nic
    storage: dict[str, float] = {}
    if found.write_rate is not None:
        storage["write_rate"] = found.write_rate
    if found.hash_rate is not None:
        storage["hash_rate"] = found.hash_rate
    if storage:
        fields["storage"] = storage
    return fields
