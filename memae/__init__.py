"""memae-repro: a reproduction of MemAE (Gong et al., ICCV 2019)."""
