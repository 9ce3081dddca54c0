"""The published Diff-eRank functions, verbatim from the original README (seeds/002).

One copy, imported by the fixture generators (tools/) and the reference pipeline (bench/).
"""
import math

import torch


# ---- verbatim from the published Diff-eRank README (seeds/002) ----
# R input N*d
def normalize(R):
    with torch.no_grad():
        mean = R.mean(dim=0)
        R = R - mean
        norms = torch.norm(R, p=2, dim=1, keepdim=True)
        R = R/norms
    return R

def cal_cov(R):
    with torch.no_grad():
        Z = torch.nn.functional.normalize(R, dim=1)
        A = torch.matmul(Z.T, Z)/Z.shape[0]
    return A

def cal_erank(A):
    with torch.no_grad():
        eig_val = torch.svd(A / torch.trace(A))[1]
        entropy = - (eig_val *torch.log(eig_val)).nansum().item()
        erank = math.exp(entropy)
    return erank

def compute(R):
    return cal_erank(cal_cov(normalize(R)))
# ---- end of verbatim code ----
