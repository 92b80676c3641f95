# R DADA2 1.26 on the tiny inputs of make_tiny.py: the golden files of
# tests/denoise/test_dada2_compatible.py.  See README.md for the runs.
#
# Rscript dada2_tiny.R READS_DIR OUT_PREFIX TRUNC_F TRUNC_R TRIM_LEFT_F TRIM_LEFT_R NREADS_LEARN \
#     MIN_FOLD CHIMERA_METHOD
#   NREADS_LEARN: "default" = learnErrors' default (nbases = 1e8), else learnErrors(nreads=N)
#   CHIMERA_METHOD: consensus | pooled | none
# Samples are taken in the order of their ids sorted byte-wise (sort(method="radix")), the
# order microtrial uses; ids are the file name up to the first underscore.
suppressMessages(library(dada2))
a <- commandArgs(trailingOnly = TRUE)
path <- a[1]; out <- a[2]
truncF <- as.integer(a[3]); truncR <- as.integer(a[4])
trimF <- as.integer(a[5]); trimR <- as.integer(a[6])
nreads <- if (a[7] == "default") NULL else as.numeric(a[7])
minFold <- as.numeric(a[8]); method <- a[9]
fnFs <- list.files(path, pattern = "_R1_001.fastq", full.names = TRUE)
ids <- sapply(strsplit(basename(fnFs), "_"), `[`, 1)
o <- sort(ids, method = "radix", index.return = TRUE)$ix
fnFs <- fnFs[o]; ids <- ids[o]
fnRs <- sub("_R1_001", "_R2_001", fnFs)
filtF <- file.path(tempdir(), paste0(ids, "_F_filt.fastq.gz"))
filtR <- file.path(tempdir(), paste0(ids, "_R_filt.fastq.gz"))
names(filtF) <- ids; names(filtR) <- ids
flt <- filterAndTrim(fnFs, filtF, fnRs, filtR, truncLen = c(truncF, truncR),
                     trimLeft = c(trimF, trimR), maxN = 0, maxEE = c(2, 2), truncQ = 2,
                     rm.phix = TRUE, multithread = 1)
keep <- file.exists(filtF)
filtF <- filtF[keep]; filtR <- filtR[keep]
if (is.null(nreads)) {
  errF <- learnErrors(filtF, multithread = 1); errR <- learnErrors(filtR, multithread = 1)
} else {
  errF <- suppressWarnings(learnErrors(filtF, nreads = nreads, multithread = 1))
  errR <- suppressWarnings(learnErrors(filtR, nreads = nreads, multithread = 1))
}
dadaF <- dada(filtF, err = errF, multithread = 1)
dadaR <- dada(filtR, err = errR, multithread = 1)
if (length(filtF) == 1) { dadaF <- setNames(list(dadaF), names(filtF)); dadaR <- setNames(list(dadaR), names(filtR)) }
mergers <- mergePairs(dadaF, filtF, dadaR, filtR)
st <- makeSequenceTable(mergers)
if (method != "none") {
  st <- removeBimeraDenovo(st, method = method, minFoldParentOverAbundance = minFold,
                           multithread = 1)
}
long <- function(tab) {
  nz <- which(tab > 0, arr.ind = TRUE)
  data.frame(sample = rownames(tab)[nz[, 1]], sequence = colnames(tab)[nz[, 2]],
             count = tab[nz])
}
tab <- long(st)
tab <- tab[order(tab$sample, -tab$count, tab$sequence, method = "radix"), ]
write.table(tab, paste0(out, "-table.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
den <- do.call(rbind, lapply(names(dadaF), function(s) {
  rbind(data.frame(sample = s, read = "F", sequence = dadaF[[s]]$sequence,
                   abundance = dadaF[[s]]$denoised),
        data.frame(sample = s, read = "R", sequence = dadaR[[s]]$sequence,
                   abundance = dadaR[[s]]$denoised))
}))
write.table(den, paste0(out, "-denoised.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
track <- data.frame(sample = ids, input = flt[, 1], filtered = flt[, 2])
track$denoised_f <- 0; track$denoised_r <- 0; track$merged <- 0
for (s in names(dadaF)) {
  track[track$sample == s, "denoised_f"] <- sum(getUniques(dadaF[[s]]))
  track[track$sample == s, "denoised_r"] <- sum(getUniques(dadaR[[s]]))
  track[track$sample == s, "merged"] <- sum(getUniques(mergers[[s]]))
}
write.table(track, paste0(out, "-tracking.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
