@NullMarked
package dev.portal.bench.jmh;

import org.jspecify.annotations.NullMarked;
