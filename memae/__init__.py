"""memae-repro: a reproduction of MemAE (Gong et al., ICCV 2019)."""

DATASETS = ("mnist", "cifar10", "cifar10_jpeg", "imagefolder", "ped2", "avenue", "shanghaitech", "kddcup99")
