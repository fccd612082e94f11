package dev.portal;

import java.util.Arrays;

import org.jspecify.annotations.Nullable;

/**
 * An immutable map of task-local values. Setting a value makes a new map, so a hop (task → worker,
 * worker → loop, caller → portal task) shares the reference and costs nothing, and no write can
 * leak back to the side it came from. Tasks hold few locals, so a linear scan beats hashing.
 */
final class Locals {

    static final Locals EMPTY = new Locals(new TaskLocal<?>[0], new Object[0]);

    private final TaskLocal<?>[] keys;
    private final @Nullable Object[] values;

    private Locals(TaskLocal<?>[] keys, @Nullable Object[] values) {
        this.keys = keys;
        this.values = values;
    }

    @Nullable Object get(TaskLocal<?> key, @Nullable Object missing) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] == key) {
                return values[i];
            }
        }
        return missing;
    }

    Locals with(TaskLocal<?> key, @Nullable Object value) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] == key) {
                @Nullable Object[] v = values.clone();
                v[i] = value;
                return new Locals(keys, v);
            }
        }
        TaskLocal<?>[] k = Arrays.copyOf(keys, keys.length + 1);
        @Nullable Object[] v = Arrays.copyOf(values, values.length + 1);
        k[keys.length] = key;
        v[values.length] = value;
        return new Locals(k, v);
    }

    Locals without(TaskLocal<?> key) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] == key) {
                if (keys.length == 1) {
                    return EMPTY;
                }
                TaskLocal<?>[] k = new TaskLocal<?>[keys.length - 1];
                @Nullable Object[] v = new Object[keys.length - 1];
                System.arraycopy(keys, 0, k, 0, i);
                System.arraycopy(keys, i + 1, k, i, keys.length - i - 1);
                System.arraycopy(values, 0, v, 0, i);
                System.arraycopy(values, i + 1, v, i, keys.length - i - 1);
                return new Locals(k, v);
            }
        }
        return this;
    }
}
