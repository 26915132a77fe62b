"""Files: the results folder, the process-mining export, the HTML report."""
