# Classify queries with R DADA2's own classifier (C_assign_taxonomy2, the C++ core of
# assignTaxonomy), trained exactly as assignTaxonomy trains, keeping what assignTaxonomy
# discards: the genus chosen by every bootstrap. Also saves the uniforms it draws.
# Used by benchmarks/classify_replay.py and to write tests/data/taxonomy/dada2-replay/.
#
# Rscript dada2_replay.R QUERIES.txt TRAIN.fa[.gz] OUT_PREFIX SEED
suppressMessages(library(dada2))
args <- commandArgs(TRUE)
seqs <- readLines(args[1])
fa <- ShortRead::readFasta(args[2])
refs <- as.character(ShortRead::sread(fa))
tax <- trimws(as.character(ShortRead::id(fa)))
# assignTaxonomy pads shorter lineages to the deepest one; groups are the unique headers
# in file order, and each rank's names are numbered (factor levels)
depth <- lengths(strsplit(tax, ";"))
tax <- paste0(tax, strrep("_DADA2_UNSPECIFIED;", max(depth) - depth))
genus <- unique(tax)
ref_to_genus <- match(tax, genus)
names_mat <- do.call(rbind, strsplit(genus, ";"))
genusmat <- matrix(0L, nrow(names_mat), ncol(names_mat))
for (r in seq_len(ncol(names_mat))) genusmat[, r] <- as.integer(factor(names_mat[, r]))
# C_assign_taxonomy2 first draws runif(n * 100 * (max_arraylen %/% 8)); draw the same here
k <- 8
n_unif <- length(seqs) * 100 * ((max(nchar(seqs)) - k + 1) %/% 8)
set.seed(as.integer(args[4]))
u <- runif(n_unif)
set.seed(as.integer(args[4]))
t0 <- proc.time()
res <- dada2:::C_assign_taxonomy2(seqs, dada2:::rc(seqs), refs, ref_to_genus, genusmat, FALSE, FALSE)
el <- (proc.time() - t0)[["elapsed"]]
if (nzchar(Sys.getenv("REPLAY_SAVE_UNIFS"))) writeBin(u, paste0(args[3], "-unifs.bin"), size = 8, endian = "little")
writeLines(genus, paste0(args[3], "-genus.txt"))
writeLines(as.character(ref_to_genus), paste0(args[3], "-ref-genus.txt"))
writeLines(as.character(res$tax), paste0(args[3], "-best.txt"))
write.table(res$boot, paste0(args[3], "-boot.tsv"), sep = "\t", quote = FALSE, row.names = FALSE, col.names = FALSE)
write.table(res$boot_tax, paste0(args[3], "-boot-tax.tsv"), sep = "\t", quote = FALSE, row.names = FALSE, col.names = FALSE)
cat(sprintf("%.3f\n", el))
