@NullMarked
package dev.portal.bench.report;

import org.jspecify.annotations.NullMarked;
