@NullMarked
package dev.portal.bench.footprint;

import org.jspecify.annotations.NullMarked;
