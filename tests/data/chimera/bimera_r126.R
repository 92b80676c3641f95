# R dada2's bimera flags and alignments for the inputs of make_families.py (see README.md)
suppressMessages(library(dada2))
args <- commandArgs(trailingOnly=TRUE)
x <- read.table(file.path(args[1], "families.tsv"), header=TRUE, stringsAsFactors=FALSE)
out <- NULL
for (f in unique(x$family)) {
  y <- x[x$family == f, ]
  cols <- c("s1", "s2", "s3")[sapply(c("s1", "s2", "s3"), function(s) all(y[[s]] >= 0))]
  m <- t(as.matrix(y[, cols, drop=FALSE])); colnames(m) <- y$sequence; storage.mode(m) <- "integer"
  out <- c(out, isBimeraDenovoTable(m, minSampleFraction=0.9, ignoreNNegatives=1,
                                    minFoldParentOverAbundance=1.5, minParentAbundance=2,
                                    allowOneOff=FALSE, maxShift=16, multithread=FALSE))
}
x$bimera <- out
write.table(x, gzfile("families-r126.tsv.gz"), sep="\t", quote=FALSE, row.names=FALSE)
p <- read.table(file.path(args[1], "pairs.tsv"), header=TRUE, stringsAsFactors=FALSE)
p$alignment <- unname(mapply(function(q, s) paste(nwalign(q, s, match=5, mismatch=-4, gap=-8, band=16,
                                                           endsfree=TRUE, vec=FALSE), collapse=" "),
                             p$q, p$p))
write.table(p, gzfile("nwalign-r126.tsv.gz"), sep="\t", quote=FALSE, row.names=FALSE)
cat(as.character(packageVersion("dada2")), R.version.string, "\n")
