# Runtime hook of the CPU-only build: it carries only the CUDA libraries torch links against, so no GPU may be used.
import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
